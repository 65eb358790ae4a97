from tapesched.entry import main

main()
