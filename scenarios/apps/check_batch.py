"""The check after ``sqlite_batch.py``: what did the job leave in its database?

``python check_batch.py integrity DB``: ``PRAGMA integrity_check`` says ``ok`` (exit
0), else its first lines (exit 1).
``python check_batch.py rows DB N``: the table ``items`` holds exactly N rows (exit
0), else how many it holds (exit 1).

Opening the file is what rolls back a transaction a killed process left behind (its
hot journal), as any later reader of the database would.
"""

import sqlite3
import sys


def main(argv):
    if len(argv) < 3 or argv[1] not in ("integrity", "rows") or (argv[1] == "rows") != (len(argv) == 4):
        print(f"usage: {argv[0]} integrity DB | rows DB N", file=sys.stderr)
        return 2
    conn = sqlite3.connect(argv[2])
    if argv[1] == "integrity":
        found = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        print(f"integrity_check: {'; '.join(found[:3])}")
        return 0 if found == ["ok"] else 1
    want = int(argv[3])
    (got,) = conn.execute("SELECT count(*) FROM items").fetchone()
    print(f"{got} of {want} rows")
    return 0 if got == want else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
