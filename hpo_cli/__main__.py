from hpo_cli.cli.app import main

main()
