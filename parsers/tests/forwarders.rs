//! Lines as syslog forwarders relay them, through `vigil_parsers::parse`: rsyslog's built-in
//! templates, syslog-ng's outputs, NXLog's `to_syslog_bsd`/`to_syslog_ietf`/`to_syslog_snare`
//! and Windows events forwarded as JSON inside syslog. Each case is a line, who wrote it, the
//! format and time it must get, and fields it must have (`-` for a field it must not have;
//! `logsource` is `product/category/service`, `@host` the event's host, which the `host` field,
//! the header's, need not be).
//!
//! The rsyslog lines were written by rsyslogd 8.2302.0 (Debian 12) run with `omfile` actions,
//! one per built-in template, fed by util-linux `logger --rfc3164`/`--rfc5424` and by raw
//! RFC 5424 lines over TCP; the syslog-ng lines by syslog-ng 3.38.1 (Debian 12) with a
//! `network()` source, `file()`, `network()` and `syslog()` destinations. The NXLog lines are
//! written from NXLog's documented formats (xm_syslog), with field order as NXLog writes it.
//!
//! rsyslog's syslog tag for a message it received as RFC 5424 is `APP-NAME[PROCID]`, with no
//! colon, `APP-NAME` alone when there is no PROCID and `-` when there is no APP-NAME; its
//! traditional and forward templates write it as received, at most 32 characters of it.

use chrono::{DateTime, Utc};
use vigil_parsers::{Event, Format, InputFormat, LogSource, ParseContext, parse};

fn ctx() -> ParseContext {
    let received =
        DateTime::parse_from_rfc3339("2026-12-04T15:00:00Z").map(|d| d.with_timezone(&Utc)).unwrap_or_default();
    ParseContext::new(received)
}

fn ok(line: &str) -> Event {
    parse(line.as_bytes(), &ctx(), InputFormat::Auto).unwrap_or_else(|e| panic!("{line}: {e}"))
}

fn f(e: &Event, name: &str) -> String {
    e.field(name).map(|v| v.as_text().into_owned()).unwrap_or_else(|| format!("<no {name}>"))
}

/// rsyslog relays a message it received as RFC 5424 (APP-NAME `sshd`, PROCID `-`) in
/// RSYSLOG_TraditionalForwardFormat as `HOST APP MSG`: its syslog tag is `APP[PROCID]` with no
/// colon, and `[PROCID]` is left out when there is none. The tag must still be read as the
/// program, so that the sshd extractor and the sshd rules see the event.
#[test]
fn rfc3164_tag_without_colon_from_rsyslog_traditional_forward() {
    let colon =
        ok("<38>Dec  4 21:36:40 host sshd: Failed password for invalid user admin from 203.0.113.9 port 52044 ssh2");
    let bare =
        ok("<38>Dec  4 21:36:40 host sshd Failed password for invalid user admin from 203.0.113.9 port 52044 ssh2");
    assert_eq!(bare.logsource, LogSource::new(Some("linux"), None, Some("sshd")));
    assert_eq!(bare.fields, colon.fields);
    assert_eq!((bare.format, bare.time, &bare.host), (colon.format, colon.time, &colon.host));
    assert_eq!(f(&bare, "app"), "sshd");
    assert_eq!(f(&bare, "event"), "failed_password");
    assert_eq!((f(&bare, "user"), f(&bare, "invalid_user")), ("admin".into(), "true".into()));
    assert_eq!((f(&bare, "src_ip"), f(&bare, "src_port")), ("203.0.113.9".into(), "52044".into()));
    assert_eq!(bare.message(), "Failed password for invalid user admin from 203.0.113.9 port 52044 ssh2");
    assert_eq!(bare.format, Format::Rfc3164);
    // With a PROCID rsyslog writes `APP[PROCID] MSG`.
    let pid = ok("<38>Dec  4 21:36:40 host sshd[123] Failed password for root from 203.0.113.9 port 52044 ssh2");
    assert_eq!(
        (f(&pid, "app"), f(&pid, "pid"), f(&pid, "event")),
        ("sshd".into(), "123".into(), "failed_password".into())
    );
    assert_eq!(pid.logsource, LogSource::new(Some("linux"), None, Some("sshd")));
}

struct Case {
    line: &'static str,
    /// Who wrote the line, and how.
    source: &'static str,
    format: Format,
    /// RFC 3339 in UTC; `None` for "the receive time".
    time: Option<&'static str>,
    fields: &'static [(&'static str, &'static str)],
}

const fn case(
    source: &'static str,
    line: &'static str,
    format: Format,
    time: Option<&'static str>,
    fields: &'static [(&'static str, &'static str)],
) -> Case {
    Case { line, source, format, time, fields }
}

const RFC3164: Format = Format::Rfc3164;
const RFC5424: Format = Format::Rfc5424;

/// sshd's fields, as every relay of the `Failed password ...` line must give them.
const SSHD_FAILED: &[(&str, &str)] = &[
    ("app", "sshd"),
    ("event", "failed_password"),
    ("user", "admin"),
    ("invalid_user", "true"),
    ("src_ip", "203.0.113.9"),
    ("src_port", "52044"),
    ("message", "Failed password for invalid user admin from 203.0.113.9 port 52044 ssh2"),
    ("logsource", "linux//sshd"),
];

const SSHD_FAILED_PID: &[(&str, &str)] = &[
    ("app", "sshd"),
    ("pid", "123"),
    ("event", "failed_password"),
    ("user", "root"),
    ("src_ip", "203.0.113.9"),
    ("message", "Failed password for root from 203.0.113.9 port 52044 ssh2"),
    ("logsource", "linux//sshd"),
];

const CASES: &[Case] = &[
    // rsyslog, received as RFC 3164 (`logger --rfc3164 -t sshd -i`): the tag keeps its colon.
    case(
        "rsyslog RSYSLOG_TraditionalForwardFormat, RFC 3164 in",
        "<38>Dec  4 23:15:50 vm sshd[12044]: Failed password for invalid user admin from 203.0.113.9 port 52044 ssh2",
        RFC3164,
        Some("2026-12-04T16:15:50Z"),
        SSHD_FAILED,
    ),
    case(
        "rsyslog RSYSLOG_ForwardFormat, RFC 3164 in",
        "<38>2026-12-04T23:15:50+00:00 vm sshd[12044]: Failed password for invalid user admin from 203.0.113.9 port 52044 ssh2",
        RFC3164,
        Some("2026-12-04T23:15:50Z"),
        SSHD_FAILED,
    ),
    // The MSG of an RFC 3164 message keeps the space after the tag's colon: `- -  MSG`.
    case(
        "rsyslog RSYSLOG_SyslogProtocol23Format, RFC 3164 in",
        "<38>1 2026-12-04T23:15:50+00:00 vm sshd 12044 - -  Failed password for invalid user admin from 203.0.113.9 port 52044 ssh2",
        RFC5424,
        Some("2026-12-04T23:15:50Z"),
        SSHD_FAILED,
    ),
    case(
        "rsyslog RSYSLOG_TraditionalFileFormat, RFC 3164 in",
        "Dec  4 23:15:50 vm sshd[12044]: Failed password for invalid user admin from 203.0.113.9 port 52044 ssh2",
        RFC3164,
        Some("2026-12-04T16:15:50Z"),
        SSHD_FAILED,
    ),
    case(
        "rsyslog RSYSLOG_FileFormat, RFC 3164 in",
        "2026-12-04T23:15:50+00:00 vm sshd[12044]: Failed password for invalid user admin from 203.0.113.9 port 52044 ssh2",
        RFC3164,
        Some("2026-12-04T23:15:50Z"),
        SSHD_FAILED,
    ),
    // rsyslog, received as RFC 5424 with a PROCID (`logger --rfc5424 -t sshd -i`): `APP[PID] MSG`.
    case(
        "rsyslog RSYSLOG_TraditionalForwardFormat, RFC 5424 in",
        "<38>Dec  4 23:15:50 vm sshd[12046] Failed password for invalid user admin from 203.0.113.9 port 52044 ssh2",
        RFC3164,
        Some("2026-12-04T16:15:50Z"),
        SSHD_FAILED,
    ),
    case(
        "rsyslog RSYSLOG_ForwardFormat, RFC 5424 in",
        "<38>2026-12-04T23:15:50.465475+00:00 vm sshd[12046] Failed password for invalid user admin from 203.0.113.9 port 52044 ssh2",
        RFC3164,
        Some("2026-12-04T23:15:50.465475Z"),
        SSHD_FAILED,
    ),
    case(
        "rsyslog RSYSLOG_SyslogProtocol23Format, RFC 5424 in",
        r#"<38>1 2026-12-04T23:15:50.465475+00:00 vm sshd 12046 - [timeQuality tzKnown="1" isSynced="0"] Failed password for invalid user admin from 203.0.113.9 port 52044 ssh2"#,
        RFC5424,
        Some("2026-12-04T23:15:50.465475Z"),
        SSHD_FAILED,
    ),
    case(
        "rsyslog RSYSLOG_TraditionalFileFormat, RFC 5424 in",
        "Dec  4 23:15:50 vm sshd[12046] Failed password for invalid user admin from 203.0.113.9 port 52044 ssh2",
        RFC3164,
        Some("2026-12-04T16:15:50Z"),
        SSHD_FAILED,
    ),
    case(
        "rsyslog RSYSLOG_FileFormat, RFC 5424 in",
        "2026-12-04T23:15:50.465475+00:00 vm sshd[12046] Failed password for invalid user admin from 203.0.113.9 port 52044 ssh2",
        RFC3164,
        Some("2026-12-04T23:15:50.465475Z"),
        SSHD_FAILED,
    ),
    // rsyslog, received as RFC 5424 without a PROCID (`logger --rfc5424=notq -t sshd`): `APP MSG`.
    case(
        "rsyslog RSYSLOG_TraditionalForwardFormat, RFC 5424 in, no PROCID",
        "<38>Dec  4 23:15:50 vm sshd Failed password for invalid user admin from 203.0.113.9 port 52044 ssh2",
        RFC3164,
        Some("2026-12-04T16:15:50Z"),
        SSHD_FAILED,
    ),
    case(
        "rsyslog RSYSLOG_ForwardFormat, RFC 5424 in, no PROCID",
        "<38>2026-12-04T23:15:50.469677+00:00 vm sshd Failed password for invalid user admin from 203.0.113.9 port 52044 ssh2",
        RFC3164,
        Some("2026-12-04T23:15:50.469677Z"),
        SSHD_FAILED,
    ),
    case(
        "rsyslog RSYSLOG_SyslogProtocol23Format, RFC 5424 in, no PROCID",
        "<38>1 2026-12-04T23:15:50.469677+00:00 vm sshd - - - Failed password for invalid user admin from 203.0.113.9 port 52044 ssh2",
        RFC5424,
        Some("2026-12-04T23:15:50.469677Z"),
        SSHD_FAILED,
    ),
    case(
        "rsyslog RSYSLOG_TraditionalFileFormat, RFC 5424 in, no PROCID",
        "Dec  4 23:15:50 vm sshd Failed password for invalid user admin from 203.0.113.9 port 52044 ssh2",
        RFC3164,
        Some("2026-12-04T16:15:50Z"),
        SSHD_FAILED,
    ),
    case(
        "rsyslog RSYSLOG_FileFormat, RFC 5424 in, no PROCID",
        "2026-12-04T23:15:50.469677+00:00 vm sshd Failed password for invalid user admin from 203.0.113.9 port 52044 ssh2",
        RFC3164,
        Some("2026-12-04T23:15:50.469677Z"),
        SSHD_FAILED,
    ),
    // Other programs rsyslog received as RFC 5424 and relayed in its traditional forward format.
    case(
        "rsyslog RSYSLOG_TraditionalForwardFormat, RFC 5424 in, no PROCID",
        "<85>Dec  4 23:15:50 vm sudo alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash",
        RFC3164,
        Some("2026-12-04T16:15:50Z"),
        &[
            ("app", "sudo"),
            ("event", "command"),
            ("user", "alice"),
            ("USER", "root"),
            ("COMMAND", "/bin/bash"),
            ("logsource", "linux//sudo"),
        ],
    ),
    case(
        "rsyslog RSYSLOG_TraditionalForwardFormat, RFC 5424 in, no PROCID",
        "<86>Dec  4 21:36:40 host su (to root) alice on pts/0",
        RFC3164,
        Some("2026-12-04T14:36:40Z"),
        &[("app", "su"), ("event", "su"), ("user", "alice"), ("target_user", "root"), ("logsource", "linux//auth")],
    ),
    case(
        "rsyslog RSYSLOG_TraditionalForwardFormat, RFC 5424 in, no PROCID",
        "<86>Dec  4 21:36:40 host useradd new user: name=bob, UID=0, GID=0, home=/home/bob, shell=/bin/bash, from=/dev/pts/0",
        RFC3164,
        Some("2026-12-04T14:36:40Z"),
        &[("app", "useradd"), ("event", "new_user"), ("user", "bob"), ("uid", "0"), ("logsource", "linux//auth")],
    ),
    case(
        "rsyslog RSYSLOG_TraditionalForwardFormat, RFC 5424 in, no PROCID",
        "<86>Dec  4 21:36:40 host CRON pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
        RFC3164,
        Some("2026-12-04T14:36:40Z"),
        &[("app", "CRON"), ("pam.module", "pam_unix"), ("event", "session_opened"), ("logsource", "linux//cron")],
    ),
    case(
        "rsyslog RSYSLOG_TraditionalForwardFormat, RFC 5424 in",
        "<86>Dec  4 21:36:40 host CRON[77] (root) CMD (run-parts /etc/cron.hourly)",
        RFC3164,
        Some("2026-12-04T14:36:40Z"),
        &[("app", "CRON"), ("pid", "77"), ("event", "cmd"), ("command", "run-parts /etc/cron.hourly")],
    ),
    case(
        "rsyslog RSYSLOG_TraditionalForwardFormat, RFC 5424 in, no PROCID",
        "<4>Dec  4 21:36:40 host kernel [UFW BLOCK] IN=eth0 OUT= MAC=00 SRC=203.0.113.9 DST=10.0.0.5 LEN=40 PROTO=TCP SPT=5000 DPT=22",
        RFC3164,
        Some("2026-12-04T14:36:40Z"),
        &[
            ("app", "kernel"),
            ("log_prefix", "[UFW BLOCK]"),
            ("action", "block"),
            ("src_ip", "203.0.113.9"),
            ("dst_port", "22"),
            ("logsource", "linux/firewall/"),
        ],
    ),
    case(
        "rsyslog RSYSLOG_TraditionalForwardFormat, RFC 5424 in",
        "<30>Dec  4 21:36:40 host systemd[1] Started Session 5 of user alice.",
        RFC3164,
        Some("2026-12-04T14:36:40Z"),
        &[("app", "systemd"), ("pid", "1"), ("message", "Started Session 5 of user alice.")],
    ),
    case(
        "rsyslog RSYSLOG_TraditionalForwardFormat, RFC 5424 in",
        "<22>Dec  4 21:36:40 mx postfix/smtpd[4242] warning: unknown[203.0.113.9]: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
        RFC3164,
        Some("2026-12-04T14:36:40Z"),
        &[("app", "smtpd"), ("tag", "postfix/smtpd"), ("pid", "4242")],
    ),
    case(
        "rsyslog RSYSLOG_TraditionalForwardFormat, RFC 5424 in",
        "<38>Dec  4 21:36:40 host sshd[123] Invalid user admin from 203.0.113.9 port 4242",
        RFC3164,
        Some("2026-12-04T14:36:40Z"),
        &[("app", "sshd"), ("pid", "123"), ("event", "invalid_user"), ("src_port", "4242")],
    ),
    case(
        "rsyslog RSYSLOG_SyslogProtocol23Format, RFC 5424 in",
        r#"<38>1 2026-12-04T21:36:40+07:00 host sshd 123 - [origin ip="10.0.0.1"] Invalid user admin from 203.0.113.9 port 4242"#,
        RFC5424,
        Some("2026-12-04T14:36:40Z"),
        &[("app", "sshd"), ("sd.origin.ip", "10.0.0.1"), ("event", "invalid_user")],
    ),
    // A NILVALUE APP-NAME: rsyslog's tag is `-`.
    case(
        "rsyslog RSYSLOG_TraditionalForwardFormat, RFC 5424 in, no APP-NAME",
        "<38>Dec  4 21:36:40 host - no app name here",
        RFC3164,
        Some("2026-12-04T14:36:40Z"),
        &[("host", "host"), ("app", "-"), ("message", "no app name here")],
    ),
    case(
        "rsyslog RSYSLOG_ForwardFormat, RFC 5424 in, no APP-NAME",
        "<38>2026-12-04T21:36:40+07:00 host - no app name here",
        RFC3164,
        Some("2026-12-04T14:36:40Z"),
        &[("host", "host"), ("app", "-"), ("message", "no app name here")],
    ),
    // An APP-NAME over 32 characters is cut, with its PROCID: nothing tells the tag from the
    // message, which keeps both.
    case(
        "rsyslog RSYSLOG_TraditionalForwardFormat, RFC 5424 in, long APP-NAME",
        "<38>Dec  4 21:36:40 host a-very-long-application-name-tha hello",
        RFC3164,
        Some("2026-12-04T14:36:40Z"),
        &[("app", "-"), ("message", "a-very-long-application-name-tha hello")],
    ),
    // syslog-ng writes the colon, for RFC 3164 and RFC 5424 input alike, and has no tag for a
    // NILVALUE APP-NAME.
    case(
        "syslog-ng file(), RFC 5424 in",
        "Dec  4 21:36:40 host sshd[123]: Failed password for root from 203.0.113.9 port 52044 ssh2",
        RFC3164,
        Some("2026-12-04T14:36:40Z"),
        SSHD_FAILED_PID,
    ),
    case(
        "syslog-ng network(), RFC 5424 in, no PROCID",
        "<38>Dec  4 21:36:40 host sshd: Failed password for invalid user admin from 203.0.113.9 port 52044 ssh2",
        RFC3164,
        Some("2026-12-04T14:36:40Z"),
        SSHD_FAILED,
    ),
    case(
        "syslog-ng network(), RFC 5424 in, no APP-NAME",
        "<38>Dec  4 21:36:40 host no app name here",
        RFC3164,
        Some("2026-12-04T14:36:40Z"),
        &[("host", "host"), ("app", "-"), ("message", "no app name here")],
    ),
    case(
        "syslog-ng file(), RFC 5424 in, no PROCID",
        "Dec  4 21:36:40 host sudo: alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash",
        RFC3164,
        Some("2026-12-04T14:36:40Z"),
        &[("app", "sudo"), ("event", "command"), ("logsource", "linux//sudo")],
    ),
    // syslog-ng relays an RFC 3164 line without the tag's colon as it received it.
    case(
        "syslog-ng network(), RFC 3164 in without the colon",
        "<38>Dec  4 21:36:40 host sshd Failed password for invalid user admin from 203.0.113.9 port 52044 ssh2",
        RFC3164,
        Some("2026-12-04T14:36:40Z"),
        SSHD_FAILED,
    ),
    case(
        "syslog-ng syslog() (RFC 5424, the frame of an octet-counted stream)",
        "<38>1 2026-12-04T21:36:40+07:00 host sshd 123 - - Failed password for root from 203.0.113.9 port 52044 ssh2",
        RFC5424,
        Some("2026-12-04T14:36:40Z"),
        SSHD_FAILED_PID,
    ),
    case(
        "syslog-ng syslog(), RFC 3164 in without the colon: syslog-ng reads the tag",
        "<38>1 2026-12-04T21:36:40+00:00 host sshd - - - Failed password for invalid user admin from 203.0.113.9 port 52044 ssh2",
        RFC5424,
        Some("2026-12-04T21:36:40Z"),
        SSHD_FAILED,
    ),
    case(
        "syslog-ng template(\"${ISODATE} ${HOST} ${MSGHDR}${MSG}\\n\"), RFC 5424 in",
        "2026-12-04T21:36:40+07:00 host sshd: Failed password for invalid user admin from 203.0.113.9 port 52044 ssh2",
        RFC3164,
        Some("2026-12-04T14:36:40Z"),
        SSHD_FAILED,
    ),
    // syslog-ng reads an RFC 3164 line without a tag's colon by the first word, whatever it is,
    // and relays it as APP-NAME: the RFC 5424 header says `Out`, and vigil takes it as it is.
    case(
        "syslog-ng syslog(), RFC 3164 in: `Out of memory: ...`",
        "<13>1 2026-12-04T21:36:40+00:00 host Out - - - of memory: Kill process 1234",
        RFC5424,
        Some("2026-12-04T21:36:40Z"),
        &[("app", "Out"), ("message", "of memory: Kill process 1234")],
    ),
    // NXLog's to_syslog_bsd() of a Windows event: `SourceName[ProcessID]: Message`. No event id
    // is left in the line, so no Windows logsource can be told from it.
    case(
        "NXLog to_syslog_bsd(), im_msvistalog (docs)",
        "<14>Dec  4 21:36:40 DC01 Microsoft-Windows-Security-Auditing[636]: An account failed to log on.  Subject:  Security ID:  S-1-0-0  Account Name:  -",
        RFC3164,
        Some("2026-12-04T14:36:40Z"),
        &[("host", "DC01"), ("app", "Microsoft-Windows-Security-Auditing"), ("pid", "636"), ("EventID", "-")],
    ),
    // NXLog's to_syslog_ietf(): the event's fields in the NXLOG@14506 structured data, the
    // message as MSG.
    case(
        "NXLog to_syslog_ietf(), im_msvistalog (docs)",
        r#"<14>1 2026-12-04T21:36:40.123456+07:00 DC01 Microsoft-Windows-Security-Auditing 636 - [NXLOG@14506 Keywords="-9214364837600034816" EventType="AUDIT_FAILURE" EventID="4625" ProviderGuid="{54849625-5478-4994-A5BA-3E3B0328C30D}" Version="0" Task="12544" OpcodeValue="0" RecordNumber="51234" ThreadID="700" Channel="Security" Category="Logon" Opcode="Info" SubjectUserSid="S-1-0-0" SubjectUserName="-" SubjectDomainName="-" SubjectLogonId="0x0" TargetUserSid="S-1-0-0" TargetUserName="admin" TargetDomainName="CORP" Status="0xc000006d" FailureReason="%%2313" SubStatus="0xc000006a" LogonType="3" LogonProcessName="NtLmSsp " AuthenticationPackageName="NTLM" WorkstationName="ATTACKER" IpAddress="203.0.113.9" IpPort="0" EventReceivedTime="2026-12-04 21:36:41" SourceModuleName="eventlog" SourceModuleType="im_msvistalog"] An account failed to log on."#,
        RFC5424,
        Some("2026-12-04T14:36:40.123456Z"),
        &[
            ("host", "DC01"),
            ("app", "Microsoft-Windows-Security-Auditing"),
            ("sd.NXLOG@14506.EventID", "4625"),
            ("EventID", "4625"),
            ("Channel", "Security"),
            ("Provider_Name", "Microsoft-Windows-Security-Auditing"),
            ("Provider_Guid", "{54849625-5478-4994-A5BA-3E3B0328C30D}"),
            ("Computer", "DC01"),
            ("EventRecordID", "51234"),
            ("TargetUserName", "admin"),
            ("LogonType", "3"),
            ("IpAddress", "203.0.113.9"),
            ("message", "An account failed to log on."),
            ("logsource", "windows//security"),
        ],
    ),
    // NXLog's to_syslog_ietf() of a file (im_file): no Windows event, the params stay as they are.
    case(
        "NXLog to_syslog_ietf(), im_file (docs)",
        r#"<13>1 2026-12-04T21:36:40.275897+07:00 web01 - - - [NXLOG@14506 EventReceivedTime="2026-12-04 21:36:40" SourceModuleName="in1" SourceModuleType="im_file"] GET /index.html 200"#,
        RFC5424,
        Some("2026-12-04T14:36:40.275897Z"),
        &[
            ("sd.NXLOG@14506.SourceModuleType", "im_file"),
            ("SourceModuleType", "-"),
            ("EventID", "-"),
            ("message", "GET /index.html 200"),
            ("logsource", "linux//syslog"),
        ],
    ),
    // NXLog's to_syslog_snare(): Snare's tab-separated `MSWinEventLog` record after a BSD header:
    // criticality, channel, counter, time, event id, source, user, SID type, event type,
    // computer, category, data, message, record number.
    case(
        "NXLog to_syslog_snare() (docs)",
        "<14>Dec  4 21:36:40 DC01 MSWinEventLog\t1\tSecurity\t123\tFri Dec 04 21:36:40 2026\t4625\tMicrosoft-Windows-Security-Auditing\tN/A\tN/A\tFailure Audit\tDC01\tLogon\t\tAn account failed to log on.    Subject:   Security ID:  S-1-0-0   Account Name:  -\t51234",
        RFC3164,
        Some("2026-12-04T14:36:40Z"),
        &[
            ("host", "DC01"),
            ("EventID", "4625"),
            ("Channel", "Security"),
            ("Provider_Name", "Microsoft-Windows-Security-Auditing"),
            ("Computer", "DC01"),
            ("Category", "Logon"),
            ("snare.event_type", "Failure Audit"),
            ("snare.criticality", "1"),
            ("snare.user", "N/A"),
            ("Message", "An account failed to log on.    Subject:   Security ID:  S-1-0-0   Account Name:  -"),
            ("logsource", "windows//security"),
        ],
    ),
    case(
        "Snare for Windows, Sysmon, RFC 5424 (docs)",
        "<13>1 2026-12-04T14:36:40.970090Z WS01 - - - - MSWinEventLog\t1\tMicrosoft-Windows-Sysmon/Operational\t77\tFri Dec 04 21:36:40 2026\t1\tMicrosoft-Windows-Sysmon\tNT AUTHORITY\\SYSTEM\tUser\tInformation\tWS01.corp.example\tProcess Create (rule: ProcessCreate)\t\tProcess Create:  RuleName: -  Image: C:\\Windows\\System32\\cmd.exe\t9",
        RFC5424,
        Some("2026-12-04T14:36:40.970090Z"),
        &[
            ("EventID", "1"),
            ("Channel", "Microsoft-Windows-Sysmon/Operational"),
            ("Computer", "WS01.corp.example"),
            ("snare.user", "NT AUTHORITY\\SYSTEM"),
            ("logsource", "windows/process_creation/sysmon"),
        ],
    ),
    // A Snare record sent as RFC 5424 (APP-NAME `snare`, no PROCID), relayed by rsyslog in its
    // traditional forward format: the word before the record is its tag.
    case(
        "Snare record relayed by rsyslog RSYSLOG_TraditionalForwardFormat, RFC 5424 in (composed)",
        "<13>Dec  4 21:36:40 DC01 snare MSWinEventLog\t1\tSecurity\t124\tFri Dec 04 21:36:40 2026\t1102\tMicrosoft-Windows-Eventlog\tCORP\\alice\tUser\tSuccess Audit\tDC01\tLog clear\t\tThe audit log was cleared.\t51235",
        RFC3164,
        Some("2026-12-04T14:36:40Z"),
        &[("app", "snare"), ("EventID", "1102"), ("snare.user", "CORP\\alice"), ("logsource", "windows//security")],
    ),
    // NXLog's to_json() as the message of to_syslog_bsd().
    case(
        "NXLog to_json() in to_syslog_bsd() (docs)",
        r#"<14>Dec  4 21:36:40 DC01 Microsoft-Windows-Security-Auditing[636]: {"EventTime":"2026-12-04 21:36:40","Hostname":"DC01","Keywords":-9214364837600034816,"EventType":"AUDIT_FAILURE","SeverityValue":4,"Severity":"ERROR","EventID":4625,"SourceName":"Microsoft-Windows-Security-Auditing","ProviderGuid":"{54849625-5478-4994-A5BA-3E3B0328C30D}","Version":0,"Task":12544,"OpcodeValue":0,"RecordNumber":51234,"ProcessID":636,"ThreadID":700,"Channel":"Security","Message":"An account failed to log on.\r\n\r\nSubject:\r\n\tSecurity ID:\t\tS-1-0-0","Category":"Logon","Opcode":"Info","TargetUserName":"admin","TargetDomainName":"CORP","LogonType":"3","IpAddress":"203.0.113.9","IpPort":"0","EventReceivedTime":"2026-12-04 21:36:41","SourceModuleName":"eventlog","SourceModuleType":"im_msvistalog"}"#,
        RFC3164,
        Some("2026-12-04T14:36:40Z"),
        &[
            ("app", "Microsoft-Windows-Security-Auditing"),
            ("EventID", "4625"),
            ("Provider_Name", "Microsoft-Windows-Security-Auditing"),
            ("Computer", "DC01"),
            ("TargetUserName", "admin"),
            ("logsource", "windows//security"),
        ],
    ),
    // Windows Event Forwarding: NXLog on the collector (wec01) reads ForwardedEvents, whose
    // events keep their own channel and computer; the event's host is its computer.
    case(
        "NXLog to_json() in to_syslog_bsd() on a Windows Event Collector (docs)",
        r#"<14>Dec  4 21:36:40 wec01 Microsoft-Windows-Security-Auditing[636]: {"EventTime":"2026-12-04 21:36:40","Hostname":"DC01.corp.example","EventID":4720,"SourceName":"Microsoft-Windows-Security-Auditing","Channel":"Security","TargetUserName":"backdoor","SubjectUserName":"alice","EventReceivedTime":"2026-12-04 21:36:42","SourceModuleName":"eventlog","SourceModuleType":"im_msvistalog"}"#,
        RFC3164,
        Some("2026-12-04T14:36:40Z"),
        &[
            ("host", "wec01"),
            ("@host", "DC01.corp.example"),
            ("Computer", "DC01.corp.example"),
            ("EventID", "4720"),
            ("TargetUserName", "backdoor"),
            ("logsource", "windows//security"),
        ],
    ),
    // The same, relayed by rsyslog in its traditional forward format after it received it as
    // RFC 5424 without a PROCID: the tag cut at 32 characters, and no colon.
    case(
        "NXLog to_json() relayed by rsyslog RSYSLOG_TraditionalForwardFormat (composed)",
        r#"<14>Dec  4 21:36:40 DC01 Microsoft-Windows-Security-Audit {"EventTime":"2026-12-04 21:36:40","Hostname":"DC01","EventID":4625,"SourceName":"Microsoft-Windows-Security-Auditing","Channel":"Security","TargetUserName":"admin","IpAddress":"203.0.113.9"}"#,
        RFC3164,
        Some("2026-12-04T14:36:40Z"),
        &[("EventID", "4625"), ("TargetUserName", "admin"), ("logsource", "windows//security")],
    ),
    // winlogbeat's JSON, relayed as syslog (Logstash's syslog output, rsyslog's omfwd).
    case(
        "winlogbeat JSON in RFC 3164 (composed)",
        r#"<14>Dec  4 21:36:40 relay winlogbeat: {"@timestamp":"2026-12-04T14:36:40.123Z","event":{"code":"4625","provider":"Microsoft-Windows-Security-Auditing"},"host":{"name":"DC01"},"winlog":{"channel":"Security","event_id":"4625","provider_name":"Microsoft-Windows-Security-Auditing","computer_name":"DC01.corp.example","record_id":51234,"event_data":{"TargetUserName":"admin","LogonType":"3","IpAddress":"203.0.113.9"}},"message":"An account failed to log on."}"#,
        RFC3164,
        Some("2026-12-04T14:36:40.123Z"),
        &[
            ("app", "winlogbeat"),
            ("EventID", "4625"),
            ("Computer", "DC01.corp.example"),
            ("IpAddress", "203.0.113.9"),
            ("logsource", "windows//security"),
        ],
    ),
    case(
        "winlogbeat JSON relayed by rsyslog RSYSLOG_TraditionalForwardFormat, RFC 5424 in (composed)",
        r#"<14>Dec  4 21:36:40 relay winlogbeat {"@timestamp":"2026-12-04T14:36:40.123Z","winlog":{"channel":"Security","event_id":4625,"provider_name":"Microsoft-Windows-Security-Auditing","computer_name":"DC01.corp.example","event_data":{"TargetUserName":"admin"}}}"#,
        RFC3164,
        Some("2026-12-04T14:36:40.123Z"),
        &[("app", "winlogbeat"), ("EventID", "4625"), ("TargetUserName", "admin"), ("logsource", "windows//security")],
    ),
];

fn text(e: &Event, name: &str) -> Option<String> {
    match name {
        "message" => Some(e.message().into_owned()),
        "@host" => e.host.clone(),
        "logsource" => {
            let ls = &e.logsource;
            let part = |p: &Option<_>| p.as_ref().map(ToString::to_string).unwrap_or_default();
            Some(format!("{}/{}/{}", part(&ls.product), part(&ls.category), part(&ls.service)))
        }
        _ => e.field(name).map(|v| v.as_text().into_owned()),
    }
}

#[test]
fn forwarders_lines() {
    let ctx = ctx();
    let mut failures = Vec::new();
    for c in CASES {
        let e = match parse(c.line.as_bytes(), &ctx, InputFormat::Auto) {
            Ok(e) => e,
            Err(err) => {
                failures.push(format!("[{}] {}: {err}", c.source, c.line));
                continue;
            }
        };
        if e.format != c.format {
            failures.push(format!("[{}] {}: format {:?}", c.source, c.line, e.format));
        }
        let want_time =
            c.time.and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map_or(ctx.received, |d| d.with_timezone(&Utc));
        if e.time != want_time {
            failures.push(format!("[{}] {}: time {} != {want_time}", c.source, c.line, e.time.to_rfc3339()));
        }
        for (name, want) in c.fields {
            let got = text(&e, name);
            let ok = if *want == "-" { got.is_none() } else { got.as_deref() == Some(*want) };
            if !ok {
                failures.push(format!("[{}] {}: {name} = {got:?}, want {want:?}", c.source, c.line));
            }
        }
    }
    for f in &failures {
        println!("{f}");
    }
    assert!(failures.is_empty(), "{} mismatches", failures.len());
}

#[test]
fn no_forwarder_line_panics() {
    let ctx = ctx();
    for c in CASES {
        let b = c.line.as_bytes();
        for n in 0..=b.len() {
            let _ = parse(&b[..n], &ctx, InputFormat::Auto);
            let _ = parse(&b[n..], &ctx, InputFormat::Auto);
        }
    }
}

#[test]
fn malformed_snare_record_keeps_the_syslog_event() {
    // EVENTID is not a number: the syslog event stays, with the reason.
    let e = ok("<14>Dec  4 21:36:40 DC01 MSWinEventLog\t1\tSecurity\t123\tFri Dec 04 21:36:40 2026\tx\tSource\tN/A");
    assert_eq!((f(&e, "payload_error"), f(&e, "EventID")), ("bad_snare".into(), "<no EventID>".into()));
    assert_eq!((e.format, e.host.as_deref()), (Format::Rfc3164, Some("DC01")));
    assert!(e.message().starts_with("MSWinEventLog\t1\tSecurity"), "{}", e.message());
}
