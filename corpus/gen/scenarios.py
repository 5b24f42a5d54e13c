#!/usr/bin/env python3
"""Writes the correlation scenarios of corpus/scenarios/: one syslog file per attack story
(RFC 5424, +07:00, full timestamps so that replays do not depend on the current year) and
expected.json, the correlation alerts each file must raise and nothing else. Standard library
only; deterministic. Run from the repository root: python3 corpus/gen/scenarios.py"""

import json
import os
from datetime import datetime, timedelta, timezone

TZ = timezone(timedelta(hours=7))
OUT = os.path.join(os.path.dirname(__file__), "..", "scenarios")
DAY = datetime(2026, 11, 16, tzinfo=TZ)


def at(h, m, s=0):
    return DAY + timedelta(hours=h, minutes=m, seconds=s)


def line(t, host, app, msg, pri=38, pid="4242"):
    return f"<{pri}>1 {t.isoformat()} {host} {app} {pid} - - {msg}"


def write(name, rows):
    # Rows are (time, line); written in time order unless a scenario shuffles them itself.
    with open(os.path.join(OUT, f"{name}.log"), "w") as f:
        for _, text in rows:
            f.write(text + "\n")


def failed(t, host, user, ip, port):
    return (t, line(t, host, "sshd", f"Failed password for {user} from {ip} port {port} ssh2"))


def accepted(t, host, user, ip):
    return (t, line(t, host, "sshd", f"Accepted password for {user} from {ip} port 50022 ssh2"))


expected = {}

# 1. SSH brute force then a successful login (the Sigma specification's example, on sshd).
rows = []
for i in range(12):  # admin: 12 failures, the 10th at 09:00:45, then a login: fires.
    rows.append(failed(at(9, 0, 5 * i), "portal01", "admin", "198.51.100.7", 40000 + i))
rows.append(accepted(at(9, 1, 30), "portal01", "admin", "198.51.100.7"))
for i in range(4):  # bob: 4 failures then a login: too few, silent.
    rows.append(failed(at(9, 20, 5 * i), "portal01", "bob", "198.51.100.8", 41000 + i))
rows.append(accepted(at(9, 21), "portal01", "bob", "198.51.100.8"))
for i in range(10):  # carol: 10 failures across 10:00 (5 before, 5 after), then a login: fires.
    rows.append(failed(at(9, 59, 35) + timedelta(seconds=5 * i), "portal01", "carol", "198.51.100.9", 42000 + i))
rows.append(accepted(at(10, 0, 40), "portal01", "carol", "198.51.100.9"))
for i in range(10):  # dave: 10 failures, the login 20 minutes later (the window is 10m): silent.
    rows.append(failed(at(11, 0, 5 * i), "portal01", "dave", "198.51.100.10", 43000 + i))
rows.append(accepted(at(11, 20), "portal01", "dave", "198.51.100.10"))
rows.sort(key=lambda r: r[0])
write("ssh_bruteforce_login", rows)
expected["ssh_bruteforce_login"] = [
    {"rule": "1d4be3f2-6e0a-4c53-9d0e-4b8f4a2f7c01", "group": {"user": "admin"}},
    {"rule": "1d4be3f2-6e0a-4c53-9d0e-4b8f4a2f7c01", "group": {"user": "carol"}},
]

# 2. Password spraying: many users from one address (value_count), suppressed repeats.
rows = []
users = ["admin", "oracle", "test", "guest", "ubuntu", "postgres", "git", "ftp", "www", "backup", "support", "user"]
for i, u in enumerate(users):  # 12 users in 2 minutes: fires at the 10th distinct user.
    rows.append((at(9, 10, 10 * i), line(at(9, 10, 10 * i), "mail01", "sshd", f"Invalid user {u} from 203.0.113.50 port {50000 + i}")))
for i, u in enumerate(users):  # the same again at 09:30: fires again, counted on the first (suppress 1h).
    rows.append((at(9, 30, 10 * i), line(at(9, 30, 10 * i), "mail01", "sshd", f"Invalid user {u}{i} from 203.0.113.50 port {51000 + i}")))
for i in range(15):  # one user 15 times from another address: one distinct value, silent.
    rows.append(failed(at(9, 40, 4 * i), "mail01", "root", "203.0.113.51", 52000 + i))
rows.sort(key=lambda r: r[0])
# Delivered slightly out of order, as a relay would: every pair of neighbours swapped.
for i in range(0, len(rows) - 1, 2):
    rows[i], rows[i + 1] = rows[i + 1], rows[i]
write("ssh_password_spray", rows)
expected["ssh_password_spray"] = [
    {"rule": "5b0e7c1a-2f4d-4d8e-a3c6-7e1f9b2d4a02", "group": {"src_ip": "203.0.113.50"}, "repeats": 1},
]

# 3. A new local user, then a sudo to a root shell on the same host (temporal_ordered).
rows = []
def useradd(t, host, user):
    return (t, line(t, host, "useradd", f"new user: name={user}, UID=1002, GID=1002, home=/home/{user}, shell=/bin/bash, from=/dev/pts/0", pri=86, pid="999"))
def sudo_root(t, host, user):
    return (t, line(t, host, "sudo", f"   {user} : TTY=pts/0 ; PWD=/home/{user} ; USER=root ; COMMAND=/bin/bash", pri=86, pid="-"))
rows += [useradd(at(13, 0), "db02", "svc-backup"), sudo_root(at(13, 12), "db02", "svc-backup")]  # fires
rows += [sudo_root(at(13, 0), "app03", "ops"), useradd(at(13, 5), "app03", "ops2")]  # wrong order: silent
rows += [useradd(at(13, 0), "app04", "tmp1"), sudo_root(at(14, 0), "app04", "tmp1")]  # 60m apart: silent
rows.sort(key=lambda r: r[0])
write("new_user_then_root", rows)
expected["new_user_then_root"] = [
    {"rule": "8f3a2d6c-41b7-4e59-b0d2-6c9e1a7f3b03", "group": {"host": "db02"}},
]

# 4. Exfiltration by bytes sent (value_sum over an hour).
rows = []
def get(t, host, ip, path, size):
    return (t, line(t, host, "nginx", f'{ip} - - [{t.strftime("%d/%b/%Y:%H:%M:%S +0700")}] "GET {path} HTTP/1.1" 200 {size} "-" "curl/8.5.0"', pri=142, pid="-"))
for i in range(12):  # 12 x 9.5 MB in 33 minutes: the 11th passes 100 MB.
    rows.append(get(at(15, 0) + timedelta(minutes=3 * i), "portal01", "10.20.30.40", f"/export/part{i}.zip", 9_500_000))
for i in range(12):  # the same volume over 3 hours: never 100 MB within an hour.
    rows.append(get(at(15, 0) + timedelta(minutes=15 * i), "portal01", "10.20.30.41", f"/export/other{i}.zip", 9_500_000))
rows.sort(key=lambda r: r[0])
write("web_exfiltration", rows)
expected["web_exfiltration"] = [
    {"rule": "c2e9b4a7-0d3f-4a61-8e5b-9f2c7d1e4b04", "group": {"c-ip": "10.20.30.40"}},
]

# 5. Absence: a backup job that starts and does not finish within 2 hours.
rows = []
def backup(t, host, what):
    return (t, line(t, host, "backup", f"job nightly {what}", pri=78, pid="77"))
rows += [backup(at(1, 0), "db01", "started"), backup(at(1, 45), "db01", "finished")]  # on time: silent
rows += [backup(at(1, 0), "db03", "started")]  # never finishes: fires at 03:00
rows += [backup(at(1, 0), "db04", "started"), backup(at(3, 30), "db04", "finished")]  # too late: fires at 03:00
rows += [(at(4, 0), line(at(4, 0), "db01", "backup", "cleanup done", pri=78, pid="77"))]  # event time moves on
rows.sort(key=lambda r: r[0])
write("backup_absence", rows)
expected["backup_absence"] = [
    {"rule": "e7d1c3b9-5a2f-4c84-9b6e-1a3f8d2c5e05", "group": {"host": "db03"}, "time": "2026-11-15T20:00:00Z"},
    {"rule": "e7d1c3b9-5a2f-4c84-9b6e-1a3f8d2c5e05", "group": {"host": "db04"}, "time": "2026-11-15T20:00:00Z"},
]

with open(os.path.join(OUT, "expected.json"), "w") as f:
    json.dump(expected, f, indent=2, sort_keys=True)
    f.write("\n")
