from tapesched.cli import main

main()
