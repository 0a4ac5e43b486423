"""``python -m engine._worker``: a worker process for ``engine.workers`` (not run by hand)."""
from engine.workers import main

if __name__ == "__main__":
    main()
