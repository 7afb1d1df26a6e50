from tagocheck.cli import main

raise SystemExit(main())
