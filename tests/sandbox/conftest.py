import sys
from pathlib import Path

# The kubesandbox package lives next to this file; tests import it directly.
sys.path.insert(0, str(Path(__file__).resolve().parent))
