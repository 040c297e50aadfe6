from hpo_cli.cli import main

main()
