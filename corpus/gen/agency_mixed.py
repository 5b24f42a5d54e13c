#!/usr/bin/env python3
# Copyright the vigil authors. Licensed under the Apache License, Version 2.0.
"""Generates corpus/syslog/agency-mixed.log: one synthetic day-morning of syslog traffic from a
few Vietnamese-agency-style hosts, mixing RFC 3164 and RFC 5424 lines.

Everything here is invented for vigil: host names, users, addresses (RFC 5737 documentation
ranges for the internet, 10.0.0.0/8 inside), mail ids and URLs. The output is deterministic
(fixed seed, Python 3 stdlib only), so rerunning the script reproduces the committed file:

    python3 corpus/gen/agency_mixed.py > corpus/syslog/agency-mixed.log

Most lines are benign. A short intrusion story is woven in so that the bundled rules have
something to find:

- an SSH password-guessing burst from 203.0.113.45 against portal-dvc, ending in a success;
- that session sudo-ing to an interactive root shell (COMMAND=/bin/bash) and adding a user;
- a web shell upload and its use (`/uploads/avatar.php?cmd=id`) from 203.0.113.77;
- a few internet scanners guessing passwords on the edge firewall's sshd.
"""

import random
import sys
from datetime import datetime, timedelta, timezone

SEED = 20261123
ICT = timezone(timedelta(hours=7))
START = datetime(2026, 11, 23, 8, 0, 0, tzinfo=ICT)
BENIGN_LINES = 265

# Facility * 8 + severity.
KERN, MAIL, DAEMON, AUTH, CRON, AUTHPRIV, LOCAL7 = 0, 2, 3, 4, 9, 10, 23
WARNING, NOTICE, INFO = 4, 5, 6

PORTAL = "portal-dvc.hanoi.gov.vn"  # RFC 3164, nginx + sshd + cron + systemd
MAIL01 = "mail01.bo-tc"  # RFC 3164, postfix
FW = "fw-edge-hcm"  # RFC 5424, kernel drops + internet-facing sshd
DC = "dc01.sotttt-danang"  # RFC 5424 with structured data, sshd/sudo/useradd
WEB2 = "web02.sokhdt-hcm"  # RFC 5424, nginx access lines with MSGID "access"

RFC5424_HOSTS = {FW, DC, WEB2}
SEQ = "\x00SEQ\x00"  # replaced by a per-host sequence number once lines are in time order
HOST_IPS = {PORTAL: "10.10.1.20", MAIL01: "10.10.2.25", FW: "10.20.0.1", DC: "10.30.0.10", WEB2: "10.20.3.15"}

ADMINS = ["tuan.nv", "hoa.ptt", "minh.lq", "linh.dt"]
ADMIN_NETS = ["10.10.5.", "10.30.8."]
INTERNAL_HOSTS = ["app01", "db01", "backup01", "monitor01"]

rng = random.Random(SEED)


def uid(user):
    return 1010 + ADMINS.index(user) if user in ADMINS else 1001


def ext_ip(net=None):
    net = net or rng.choice(["198.51.100.", "192.0.2."])
    return f"{net}{rng.randint(2, 254)}"


def admin_ip():
    return f"{rng.choice(ADMIN_NETS)}{rng.randint(10, 90)}"


def pid():
    return rng.randint(1200, 64000)


def port():
    return rng.randint(32768, 60999)


def line(when, host, pri, app, proc, msg, msgid="-"):
    """One syslog line in the host's format."""
    if host in RFC5424_HOSTS:
        stamp = when.isoformat(timespec="microseconds")
        if host == DC:
            sd = f'[origin ip="{HOST_IPS[host]}" software="rsyslogd" swVersion="8.2312.0"][meta sequenceId="{SEQ}"]'
        elif host == FW and app == "kernel":
            sd = f'[meta sequenceId="{SEQ}"]'
        else:
            sd = "-"
        return f"<{pri}>1 {stamp} {host} {app} {proc if proc is not None else '-'} {msgid} {sd} {msg}"
    stamp = f"{when.strftime('%b')} {when.day:>2} {when.strftime('%H:%M:%S')}"
    tag = f"{app}[{proc}]" if proc is not None else app
    return f"<{pri}>{stamp} {host} {tag}: {msg}"


def access(when, ip, method, uri, status, size, referer, agent, user="-"):
    stamp = when.strftime("%d/%b/%Y:%H:%M:%S %z")
    return f'{ip} - {user} [{stamp}] "{method} {uri} HTTP/1.1" {status} {size} "{referer}" "{agent}"'


AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
]
PAGES = [
    ("GET", "/", 200, 18234),
    ("GET", "/index.php?page=news", 200, 5120),
    ("GET", "/index.php?page=news&id=1287", 200, 9876),
    ("GET", "/thu-tuc-hanh-chinh?linh-vuc=dat-dai", 200, 14502),
    ("GET", "/thu-tuc-hanh-chinh?linh-vuc=ho-tich&trang=2", 200, 13990),
    ("GET", "/tra-cuu-ho-so?ma=HS-2026-004512", 200, 3321),
    ("POST", "/dang-nhap", 302, 0),
    ("GET", "/static/css/main.css?v=2026.11", 304, 0),
    ("GET", "/static/js/app.min.js?v=2026.11", 304, 0),
    ("GET", "/static/img/logo-ubnd.png", 200, 24576),
    ("GET", "/favicon.ico", 200, 1150),
    ("GET", "/lien-he", 200, 7214),
    ("GET", "/van-ban/quyet-dinh-1024-qd-ubnd.pdf", 200, 482113),
    ("GET", "/robots.txt", 200, 67),
    ("GET", "/khong-ton-tai", 404, 548),
]


def web_line(when, host, ip=None, page=None, agent=None, referer=None):
    method, uri, status, size = page or rng.choice(PAGES)
    if size:
        size += rng.randint(-40, 40) if size > 1000 else 0
    referer = referer or rng.choice(["-", f"https://{host}/", f"https://{host}/index.php?page=news"])
    body = access(when, ip or ext_ip(), method, uri, status, max(size, 0), referer, agent or rng.choice(AGENTS))
    if host == WEB2:
        return line(when, host, LOCAL7 * 8 + INFO, "nginx", None, body, msgid="access")
    return line(when, host, LOCAL7 * 8 + INFO, "nginx", None, body)


def ssh_session(when, host, user, ip, method="publickey"):
    """An admin's SSH login, its PAM session, and (a few minutes later) its logout."""
    p, sp = pid(), port()
    if method == "publickey":
        how = f"publickey for {user} from {ip} port {sp} ssh2: ED25519 SHA256:{rng.randbytes(8).hex()}"
    else:
        how = f"password for {user} from {ip} port {sp} ssh2"
    pri = AUTH * 8 + INFO
    out = [
        (when, line(when, host, pri, "sshd", p, f"Accepted {how}")),
        (when, line(when, host, AUTHPRIV * 8 + INFO, "sshd", p, f"pam_unix(sshd:session): session opened for user {user}(uid={uid(user)}) by (uid=0)")),
    ]
    if host not in RFC5424_HOSTS or rng.random() < 0.5:
        t = when + timedelta(seconds=1)
        out.append((t, line(t, host, DAEMON * 8 + INFO, "systemd", 1, f"Started session-{rng.randint(100, 9999)}.scope - Session {rng.randint(100, 9999)} of User {user}.")))
    end = when + timedelta(seconds=rng.randint(90, 1500))
    out += [
        (end, line(end, host, pri, "sshd", p, f"Received disconnect from {ip} port {sp}:11: disconnected by user")),
        (end, line(end, host, pri, "sshd", p, f"Disconnected from user {user} {ip} port {sp}")),
        (end, line(end, host, AUTHPRIV * 8 + INFO, "sshd", p, f"pam_unix(sshd:session): session closed for user {user}")),
    ]
    return out


def sudo(when, host, user, pwd, command, target="root", tty="pts/0"):
    msg = f"{user} : TTY={tty} ; PWD={pwd} ; USER={target} ; COMMAND={command}"
    t2 = when
    return [
        (when, line(when, host, AUTHPRIV * 8 + NOTICE, "sudo", None, msg)),
        (t2, line(t2, host, AUTHPRIV * 8 + INFO, "sudo", None, f"pam_unix(sudo:session): session opened for user {target}(uid=0) by {user}(uid={uid(user)})")),
    ]


def cron(when, host):
    user, cmd = rng.choice([
        ("root", "/usr/local/bin/backup-db.sh >/dev/null 2>&1"),
        ("root", "test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.hourly; }"),
        ("www-data", "php /var/www/dvc/artisan schedule:run >> /dev/null 2>&1"),
        ("root", "/usr/lib/sysstat/debian-sa1 1 1"),
    ])
    p = pid()
    return [
        (when, line(when, host, AUTHPRIV * 8 + INFO, "CRON", p, f"pam_unix(cron:session): session opened for user {user}(uid={0 if user == 'root' else 33}) by (uid=0)")),
        (when, line(when, host, CRON * 8 + INFO, "CRON", p, f"({user}) CMD ({cmd})")),
        (when, line(when, host, AUTHPRIV * 8 + INFO, "CRON", p, f"pam_unix(cron:session): session closed for user {user}")),
    ]


def systemd(when, host):
    msg = rng.choice([
        "Starting logrotate.service - Rotate log files...",
        "logrotate.service: Deactivated successfully.",
        "Finished logrotate.service - Rotate log files.",
        "Starting apt-daily.service - Daily apt download activities...",
        "apt-daily.service: Deactivated successfully.",
        "Started certbot.service - Certbot.",
        "certbot.service: Deactivated successfully.",
        "Starting sysstat-collect.service - system activity accounting tool...",
        "sysstat-collect.service: Deactivated successfully.",
        "Started fstrim.service - Discard unused blocks on filesystems from /etc/fstab.",
    ])
    return [(when, line(when, host, DAEMON * 8 + INFO, "systemd", 1, msg))]


MAIL_DOMAINS = ["example.org", "example.com", "example.net"]


def mail_flow(when):
    qid = rng.randbytes(5).hex().upper()[:10]
    peer_ip = ext_ip("198.51.100.")
    peer = f"mx{rng.randint(1, 4)}.{rng.choice(MAIL_DOMAINS)}"
    sender = f"{rng.choice(['info', 'noreply', 'hotro', 'lienhe'])}@{rng.choice(MAIL_DOMAINS)}"
    rcpt = f"{rng.choice(['vanthu', 'ketoan', 'phongtccb', 'tonghop'])}@bo-tc.gov.vn"
    p_smtpd, p_clean, p_qmgr, p_local = pid(), pid(), 1711, pid()
    t = [when + timedelta(milliseconds=200 * k) for k in range(7)]
    pri = MAIL * 8 + INFO
    return [
        (t[0], line(t[0], MAIL01, pri, "postfix/smtpd", p_smtpd, f"connect from {peer}[{peer_ip}]")),
        (t[1], line(t[1], MAIL01, pri, "postfix/smtpd", p_smtpd, f"{qid}: client={peer}[{peer_ip}]")),
        (t[2], line(t[2], MAIL01, pri, "postfix/cleanup", p_clean, f"{qid}: message-id=<{rng.randbytes(6).hex()}@{peer.split('.', 1)[1]}>")),
        (t[3], line(t[3], MAIL01, pri, "postfix/qmgr", p_qmgr, f"{qid}: from=<{sender}>, size={rng.randint(2000, 900000)}, nrcpt=1 (queue active)")),
        (t[4], line(t[4], MAIL01, pri, "postfix/smtpd", p_smtpd, f"disconnect from {peer}[{peer_ip}] ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7")),
        (t[5], line(t[5], MAIL01, pri, "postfix/local", p_local, f"{qid}: to=<{rcpt}>, relay=local, delay=0.{rng.randint(10, 99)}, delays=0.1/0.01/0/0.05, dsn=2.0.0, status=sent (delivered to mailbox)")),
        (t[6], line(t[6], MAIL01, pri, "postfix/qmgr", p_qmgr, f"{qid}: removed")),
    ]


def mail_reject(when):
    ip = ext_ip("203.0.113.")
    p = pid()
    pri = MAIL * 8 + INFO
    return [
        (when, line(when, MAIL01, pri, "postfix/smtpd", p, f"connect from unknown[{ip}]")),
        (when, line(when, MAIL01, pri, "postfix/smtpd", p, f"NOQUEUE: reject: RCPT from unknown[{ip}]: 554 5.7.1 <lienhe@example.net>: Relay access denied; from=<spam@example.com> to=<lienhe@example.net> proto=ESMTP helo=<WIN-{rng.randbytes(4).hex().upper()}>")),
        (when, line(when, MAIL01, pri, "postfix/smtpd", p, f"disconnect from unknown[{ip}] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4")),
    ]


def fw_drop(when):
    src = ext_ip(rng.choice(["203.0.113.", "198.51.100."]))
    dpt = rng.choice([23, 445, 3389, 1433, 5900, 8080, 22])
    msg = (
        f"[{rng.randint(100000, 999999)}.{rng.randint(0, 999999):06d}] DROP-IN: IN=eth0 OUT= "
        f"MAC=00:16:3e:5a:10:01:00:1c:73:00:00:99:08:00 SRC={src} DST=10.20.0.1 LEN=44 TOS=0x00 "
        f"PREC=0x00 TTL={rng.randint(38, 250)} ID={rng.randint(1, 65535)} PROTO=TCP SPT={port()} DPT={dpt} "
        f"WINDOW=1024 RES=0x00 SYN URGP=0"
    )
    return [(when, line(when, FW, KERN * 8 + WARNING, "kernel", None, msg))]


def fw_scanner(when):
    ip, p, sp = ext_ip("203.0.113."), pid(), port()
    user = rng.choice(["admin", "ubuntu", "test", "oracle", "support"])
    pri = AUTH * 8 + INFO
    return [
        (when, line(when, FW, pri, "sshd", p, f"Invalid user {user} from {ip} port {sp}")),
        (when, line(when, FW, pri, "sshd", p, f"Failed password for invalid user {user} from {ip} port {sp} ssh2")),
        (when, line(when, FW, pri, "sshd", p, f"Connection closed by invalid user {user} {ip} port {sp} [preauth]")),
    ]


def benign(when):
    kind = rng.choices(
        ["web", "web2", "ssh", "sudo", "cron", "systemd", "mail", "mailrej", "fwdrop", "scanner"],
        weights=[34, 10, 4, 4, 5, 6, 5, 1, 8, 1],
    )[0]
    if kind == "web":
        return [(when, web_line(when, PORTAL))]
    if kind == "web2":
        return [(when, web_line(when, WEB2))]
    if kind == "ssh":
        host = rng.choice([PORTAL, DC, MAIL01])
        return ssh_session(when, host, rng.choice(ADMINS), admin_ip())
    if kind == "sudo":
        host = rng.choice([PORTAL, DC, MAIL01])
        user = rng.choice(ADMINS)
        home = f"/home/{user}"
        pwd, cmd = rng.choice({
            PORTAL: [
                (home, "/usr/bin/systemctl restart nginx"),
                ("/var/log/nginx", "/usr/bin/tail -n 200 /var/log/nginx/error.log"),
                ("/etc/nginx", "/usr/sbin/nginx -t"),
                (home, "/usr/bin/apt-get update"),
            ],
            MAIL01: [
                ("/etc/postfix", "/usr/sbin/postqueue -p"),
                ("/etc/postfix", "/usr/sbin/postfix reload"),
                (home, "/usr/bin/apt-get update"),
            ],
            DC: [
                (home, "/usr/bin/systemctl status rsyslog"),
                (home, "/usr/bin/journalctl -u chrony --since today"),
                (home, "/usr/bin/apt-get update"),
            ],
        }[host])
        return sudo(when, host, user, pwd, cmd)
    if kind == "cron":
        return cron(when, rng.choice([PORTAL, DC, MAIL01, WEB2]))
    if kind == "systemd":
        return systemd(when, rng.choice([PORTAL, DC, MAIL01, FW, WEB2]))
    if kind == "mail":
        return mail_flow(when)
    if kind == "mailrej":
        return mail_reject(when)
    if kind == "fwdrop":
        return fw_drop(when)
    return fw_scanner(when)


def intrusion():
    """The attack story, at fixed times."""
    out = []
    attacker = "203.0.113.45"
    t = START.replace(hour=9, minute=12, second=3)
    p = pid()
    pri = AUTH * 8 + INFO
    guesses = ["root", "root", "admin", "admin", "root", "dvc", "root", "quantri"]
    for k, user in enumerate(guesses):
        t += timedelta(seconds=rng.randint(1, 4))
        sp = port()
        if user in ("admin", "quantri"):
            out.append((t, line(t, PORTAL, pri, "sshd", p + k, f"Invalid user {user} from {attacker} port {sp}")))
            out.append((t, line(t, PORTAL, pri, "sshd", p + k, f"Failed password for invalid user {user} from {attacker} port {sp} ssh2")))
        else:
            out.append((t, line(t, PORTAL, pri, "sshd", p + k, f"Failed password for {user} from {attacker} port {sp} ssh2")))
    t += timedelta(seconds=41)
    # The guessed account: a forgotten deploy user with a weak password.
    login = t
    p_ok, sp = pid(), port()
    out.append((t, line(t, PORTAL, pri, "sshd", p_ok, f"Accepted password for deploy from {attacker} port {sp} ssh2")))
    out.append((t, line(t, PORTAL, AUTHPRIV * 8 + INFO, "sshd", p_ok, "pam_unix(sshd:session): session opened for user deploy(uid=1001) by (uid=0)")))
    t += timedelta(seconds=38)
    out += sudo(t, PORTAL, "deploy", "/tmp", "/bin/bash", tty="pts/3")
    t += timedelta(seconds=52)
    p_ua = pid()
    pri_ua = AUTHPRIV * 8 + INFO
    out.append((t, line(t, PORTAL, pri_ua, "useradd", p_ua, "new group: name=sysupdate, GID=1002")))
    out.append((t, line(t, PORTAL, pri_ua, "useradd", p_ua, "new user: name=sysupdate, UID=1002, GID=1002, home=/home/sysupdate, shell=/bin/bash, from=/dev/pts/3")))
    t += timedelta(seconds=19)
    out.append((t, line(t, PORTAL, pri_ua, "passwd", pid(), "pam_unix(passwd:chauthtok): password changed for sysupdate")))
    t = login + timedelta(seconds=610)
    out.append((t, line(t, PORTAL, pri, "sshd", p_ok, f"Received disconnect from {attacker} port {sp}:11: disconnected by user")))
    out.append((t, line(t, PORTAL, AUTHPRIV * 8 + INFO, "sshd", p_ok, "pam_unix(sshd:session): session closed for user deploy")))

    # The web shell: an upload through the avatar form, then commands through it.
    shell_ip = "203.0.113.77"
    agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
    t = START.replace(hour=9, minute=47, second=30)
    steps = [
        ("GET", "/tai-khoan/ho-so", 200, 6120),
        ("POST", "/tai-khoan/cap-nhat-anh-dai-dien", 302, 0),
        ("GET", "/uploads/avatar.php", 200, 0),
        ("GET", "/uploads/avatar.php?cmd=id", 200, 54),
        ("GET", "/uploads/avatar.php?cmd=uname%20-a", 200, 112),
        ("GET", "/uploads/avatar.php?cmd=cat%20/etc/passwd", 200, 1873),
    ]
    for step in steps:
        t += timedelta(seconds=rng.randint(3, 25))
        out.append((t, web_line(t, PORTAL, ip=shell_ip, page=step, agent=agent)))
    # A scanner probing the second web server at the same time.
    t = START.replace(hour=9, minute=31, second=0)
    for uri, status in [
        ("/.env", 404),
        ("/wp-login.php", 404),
        ("/index.php?page=../../../../etc/passwd", 200),
        ("/index.php?page=news&id=1%27%20UNION%20SELECT%20NULL,version()--%20-", 500),
        ("/phpmyadmin/index.php", 404),
    ]:
        t += timedelta(seconds=rng.randint(1, 3), microseconds=rng.randint(0, 999999))
        agent = "sqlmap/1.8.11#stable (https://sqlmap.org)"
        out.append((t, web_line(t, WEB2, ip="198.51.100.66", page=("GET", uri, status, 548), agent=agent, referer="-")))
    return out


def main():
    events = intrusion()
    t = START
    lines = 0
    while lines < BENIGN_LINES:
        t += timedelta(seconds=rng.randint(5, 120), microseconds=rng.randint(0, 999999))
        group = benign(t)
        events += group
        lines += len(group)
    # Stable sort: lines of one group that share a timestamp keep their order.
    events.sort(key=lambda e: e[0])
    seq = {h: 0 for h in RFC5424_HOSTS}
    out = sys.stdout
    for _, text in events:
        if SEQ in text:
            host = text.split(" ", 3)[2]
            seq[host] += 1
            text = text.replace(SEQ, str(seq[host]))
        out.write(text + "\n")


if __name__ == "__main__":
    main()
