from imagehost.cli import main

raise SystemExit(main())
