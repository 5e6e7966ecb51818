from ecgcore.cli import main

raise SystemExit(main())
