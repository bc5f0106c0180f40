from fromsource.cli import main

main()
