from ospack.cli import main

main()
