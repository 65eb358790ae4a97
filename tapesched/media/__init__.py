"""Tape media: labelled volumes on drives and in libraries, and the data stream to them.

labels   the names tapesched accepts (volume labels, pools, sizes) and the label record,
         tape file 0 of every volume
drive    one interface over a real drive (mt and the device node) and a virtual drive
         (a folder whose cartridge/ subfolder is the loaded cartridge)
library  one interface over a real autochanger (mtx) and a virtual library (a folder of
         slot and drive folders)
stream   the backup's tar stream cut into pieces at ends of medium, with their SHA-256
"""
