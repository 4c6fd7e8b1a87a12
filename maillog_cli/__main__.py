from maillog_cli.cli import main

main()
