"""Entry point of the helper process: ``python -S -E .../nslab/_boot.py CTL_FD PARENT_PID``.

Run without site (-S) and environment (-E) so the helper imports only what it
needs: every fork copies its page tables, and a smaller helper forks faster.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from nslab._helper import main

sys.exit(main())
