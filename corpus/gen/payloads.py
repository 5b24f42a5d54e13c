#!/usr/bin/env python3
# Copyright the vigil authors. Licensed under the Apache License, Version 2.0.
"""Generates synthetic payload lines for benchmarks and tests, one file per format:

    corpus/payloads/cef.log        CEF over RFC 3164 (WAF / IPS style)
    corpus/payloads/leef.log       LEEF 1.0 and 2.0 over RFC 3164
    corpus/payloads/fortigate.log  FortiGate key=value traffic logs over RFC 3164
    corpus/payloads/winlogbeat.ndjson  winlogbeat (ECS) Windows events, Sysmon and Security

Everything is invented for vigil (hosts, users, RFC 5737 documentation addresses). Fixed seed,
Python 3 stdlib only:

    python3 corpus/gen/payloads.py
"""

import json
import os
import random

SEED = 20261124
N = 300
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "payloads")

rnd = random.Random(SEED)
EXT = ["203.0.113.%d" % i for i in range(2, 250, 7)] + ["198.51.100.%d" % i for i in range(3, 250, 11)]
INT = ["10.%d.%d.%d" % (a, b, c) for a in (1, 2, 14) for b in (0, 4, 20) for c in (5, 17, 33, 120)]
USERS = ["an.nguyen", "binh.tran", "cuong.le", "dung.pham", "giang.vo", "administrator", "svc_backup"]


def ts(i):
    return "Nov 23 %02d:%02d:%02d" % (8 + i // 3600, (i // 60) % 60, i % 60)


def cef(i):
    src, dst = rnd.choice(EXT), rnd.choice(INT)
    sig, name, sev = rnd.choice([
        ("942100", "SQL Injection Attack Detected via libinjection", 9),
        ("941100", "XSS Attack Detected via libinjection", 8),
        ("913100", "Found User-Agent associated with security scanner", 5),
        ("930120", "OS File Access Attempt", 7),
    ])
    uri = rnd.choice(["/dichvucong/tra-cuu?ma=1%27%20OR%201=1--", "/portal/login.jsp", "/api/v1/hoso?id=..%2f..%2fetc%2fpasswd"])
    return ("<134>%s waf01.sotttt-hcm CEF:0|Vigil Synthetic|WAF|3.2|%s|%s|%d|src=%s spt=%d dst=%s dpt=443 "
            "request=https://dvc.hcm.gov.vn%s requestMethod=GET act=blocked cs1Label=policy cs1=portal-strict "
            "msg=Request blocked by rule %s rt=%d" % (
                ts(i), sig, name, sev, src, rnd.randint(1024, 65535), dst, uri, sig, 1795917600000 + i * 1000))


def leef(i):
    src, dst = rnd.choice(EXT), rnd.choice(INT)
    if i % 2:
        attrs = "\t".join(["src=%s" % src, "dst=%s" % dst, "srcPort=%d" % rnd.randint(1024, 65535), "dstPort=22",
                           "usrName=%s" % rnd.choice(USERS), "proto=TCP", "sev=6", "cat=auth_failure"])
        return "<134>%s ids02.bo-tc LEEF:1.0|Vigil Synthetic|IDS|2.1|AUTH_FAIL|%s" % (ts(i), attrs)
    attrs = "^".join(["src=%s" % src, "dst=%s" % dst, "srcPort=%d" % rnd.randint(1024, 65535), "dstPort=3389",
                      "proto=TCP", "sev=8", "cat=rdp_bruteforce", "devTime=Nov 23 2026 08:%02d:%02d" % ((i // 60) % 60, i % 60)])
    return "<134>%s ids02.bo-tc LEEF:2.0|Vigil Synthetic|IDS|2.1|RDP_BF|^|%s" % (ts(i), attrs)


def fortigate(i):
    src, dst = rnd.choice(INT), rnd.choice(EXT)
    action = rnd.choice(["accept", "accept", "accept", "deny", "close"])
    return ('<189>%s fgt-edge-hn date=2026-11-23 time=08:%02d:%02d devname="FGT-HN-EDGE" devid="FG100FTK19000000" '
            'eventtime=%d tz="+0700" logid="0000000013" type="traffic" subtype="forward" level="notice" vd="root" '
            'srcip=%s srcport=%d srcintf="port2" srcintfrole="lan" dstip=%s dstport=443 dstintf="wan1" '
            'dstintfrole="wan" sessionid=%d proto=6 action="%s" policyid=12 policytype="policy" service="HTTPS" '
            'dstcountry="Reserved" srccountry="Reserved" trandisp="snat" duration=%d sentbyte=%d rcvdbyte=%d '
            'appcat="unscanned"' % (
                ts(i), (i // 60) % 60, i % 60, 1795917600000000000 + i, src, rnd.randint(1024, 65535), dst,
                rnd.randint(10**6, 10**7), action, rnd.randint(1, 300), rnd.randint(100, 90000), rnd.randint(100, 900000)))


def winlogbeat(i):
    host = rnd.choice(["dc01.sotttt-danang.local", "ws-ketoan-07.sotc.local", "srv-hoso-02.dvc.local"])
    stamp = "2026-11-23T01:%02d:%02d.%03dZ" % ((i // 60) % 60, i % 60, rnd.randint(0, 999))
    if i % 3 == 0:
        data = {"SubjectUserName": "WS$", "TargetUserName": rnd.choice(USERS), "LogonType": str(rnd.choice([3, 10])),
                "IpAddress": rnd.choice(EXT + INT), "WorkstationName": "KALI", "Status": "0xc000006d"}
        return {"@timestamp": stamp, "event": {"code": "4625", "provider": "Microsoft-Windows-Security-Auditing"},
                "host": {"name": host}, "message": "An account failed to log on.",
                "winlog": {"channel": "Security", "event_id": 4625, "provider_name": "Microsoft-Windows-Security-Auditing",
                           "computer_name": host, "record_id": 100000 + i, "event_data": data}}
    image, parent, cmd = rnd.choice([
        ("C:\\Windows\\System32\\whoami.exe", "C:\\Windows\\System32\\cmd.exe", "whoami /all"),
        ("C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe", "C:\\Windows\\explorer.exe",
         "powershell.exe -NoProfile -ExecutionPolicy Bypass -File C:\\Scripts\\backup.ps1"),
        ("C:\\Windows\\System32\\net.exe", "C:\\Windows\\System32\\cmd.exe", "net group \"Domain Admins\" /domain"),
        ("C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE", "C:\\Windows\\explorer.exe",
         "\"EXCEL.EXE\" C:\\Users\\an.nguyen\\Documents\\baocao.xlsx"),
    ])
    data = {"Image": image, "ParentImage": parent, "CommandLine": cmd, "User": "SOTTTT\\" + rnd.choice(USERS),
            "IntegrityLevel": "Medium", "ProcessId": str(rnd.randint(1000, 9000)),
            "Hashes": "SHA256=%064X" % rnd.getrandbits(256), "CurrentDirectory": "C:\\Users\\Public\\"}
    return {"@timestamp": stamp, "event": {"code": "1", "provider": "Microsoft-Windows-Sysmon"},
            "host": {"name": host}, "message": "Process Create",
            "winlog": {"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": 1,
                       "provider_name": "Microsoft-Windows-Sysmon", "computer_name": host, "record_id": 200000 + i,
                       "event_data": data}}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, gen in [("cef.log", cef), ("leef.log", leef), ("fortigate.log", fortigate)]:
        with open(os.path.join(OUT, name), "w") as f:
            for i in range(N):
                f.write(gen(i) + "\n")
    with open(os.path.join(OUT, "winlogbeat.ndjson"), "w") as f:
        for i in range(N):
            f.write(json.dumps(winlogbeat(i), separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
