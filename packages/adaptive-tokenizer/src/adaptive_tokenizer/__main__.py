"""`python -m adaptive_tokenizer`: the same CLI as `adaptive-tokenizer`."""

import sys

from .cli import main

sys.exit(main())
