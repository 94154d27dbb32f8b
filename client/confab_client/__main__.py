from confab_client.cli import main

raise SystemExit(main())
