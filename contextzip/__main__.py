from contextzip.cli import main

main()
