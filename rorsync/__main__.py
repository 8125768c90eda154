from rorsync.cli import main

main()
