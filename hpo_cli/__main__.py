from hpo_cli.cli.entry import main

main()
