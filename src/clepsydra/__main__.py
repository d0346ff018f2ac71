from clepsydra.cli import main

main()
