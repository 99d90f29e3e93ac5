import sys

from siting.cli.main import main

sys.exit(main())
