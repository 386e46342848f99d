from bwv.cli import main

main()
