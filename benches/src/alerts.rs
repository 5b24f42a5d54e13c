//! Synthetic alerts for the search benchmark: a national SOC's month, across Vietnam's 63
//! provinces and 200 agencies (each in one province), 300 rules with ATT&CK tags, thousands of
//! hosts and users, messages in Vietnamese and English. Deterministic for a seed, in event-time
//! order (as the pipeline indexes them), written for vigil (no data from elsewhere).

use chrono::{DateTime, Duration, Utc};
use vigil_engine::{Alert, AlertRule, AlertSource};
use vigil_parsers::Value;

/// Vietnam's 63 provinces and centrally run cities (before the 2025 merger), as slugs.
pub const PROVINCES: [&str; 63] = [
    "ha-noi",
    "ho-chi-minh",
    "hai-phong",
    "da-nang",
    "can-tho",
    "an-giang",
    "ba-ria-vung-tau",
    "bac-giang",
    "bac-kan",
    "bac-lieu",
    "bac-ninh",
    "ben-tre",
    "binh-dinh",
    "binh-duong",
    "binh-phuoc",
    "binh-thuan",
    "ca-mau",
    "cao-bang",
    "dak-lak",
    "dak-nong",
    "dien-bien",
    "dong-nai",
    "dong-thap",
    "gia-lai",
    "ha-giang",
    "ha-nam",
    "ha-tinh",
    "hai-duong",
    "hau-giang",
    "hoa-binh",
    "hung-yen",
    "khanh-hoa",
    "kien-giang",
    "kon-tum",
    "lai-chau",
    "lam-dong",
    "lang-son",
    "lao-cai",
    "long-an",
    "nam-dinh",
    "nghe-an",
    "ninh-binh",
    "ninh-thuan",
    "phu-tho",
    "phu-yen",
    "quang-binh",
    "quang-nam",
    "quang-ngai",
    "quang-ninh",
    "quang-tri",
    "soc-trang",
    "son-la",
    "tay-ninh",
    "thai-binh",
    "thai-nguyen",
    "thanh-hoa",
    "thua-thien-hue",
    "tien-giang",
    "tra-vinh",
    "tuyen-quang",
    "vinh-long",
    "vinh-phuc",
    "yen-bai",
];

pub const AGENCIES: usize = 200;
pub const RULES: usize = 300;
pub const HOSTS_PER_AGENCY: u64 = 25;
pub const USERS: u64 = 2_000;

const AGENCY_KINDS: [&str; 8] = ["so-tttt", "ubnd", "so-tc", "so-yt", "cong-dvc", "mot-cua", "so-gd", "kho-bac"];
/// The tactics the benchmark's rules carry: initial access to lateral movement.
fn tactics() -> &'static [&'static str] {
    &vigil_engine::store::schema::TACTICS[2..10]
}
const TECHNIQUES: [&str; 12] = [
    "t1110.001",
    "t1110.003",
    "t1078",
    "t1059.001",
    "t1059.003",
    "t1053.005",
    "t1547.001",
    "t1190",
    "t1021.001",
    "t1003.001",
    "t1087.002",
    "t1562.001",
];
const FAMILY: [&str; 8] = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi"];
const GIVEN: [&str; 8] =
    ["Văn An", "Thị Bình", "Đức Cường", "Thu Hà", "Minh Khoa", "Ngọc Lan", "Quốc Huy", "Thanh Tâm"];

/// A small, fast, seedable generator (SplitMix64).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Skewed towards small values: a few agencies, rules, users and hosts are busy.
    pub fn skewed(&mut self, n: u64) -> u64 {
        let a = self.below(n);
        let b = self.below(n);
        a.min(b)
    }
}

/// An agency: its name and province index.
pub fn agency(i: usize) -> (String, usize) {
    let province = i % PROVINCES.len();
    (format!("{}-{}-{}", AGENCY_KINDS[i % AGENCY_KINDS.len()], PROVINCES[province], i / PROVINCES.len()), province)
}

/// A rule of the benchmark's set.
pub fn rule(i: usize) -> AlertRule {
    let levels = ["informational", "low", "low", "medium", "medium", "medium", "high", "high", "critical", "medium"];
    let subjects = ["SSH", "RDP", "Web Portal", "PowerShell", "Mail Gateway", "VPN", "Domain Controller", "Database"];
    let actions = ["Brute Force", "Suspicious Login", "Privilege Change", "Encoded Command", "Scan", "Data Export"];
    AlertRule {
        id: format!("{:08x}-0000-4000-8000-{:012x}", i * 2_654_435_761 % 0xFFFF_FFFF, i),
        name: None,
        title: format!("{} {} #{i}", subjects[i % subjects.len()], actions[i % actions.len()]),
        level: levels[i % levels.len()].to_owned(),
        status: Some(if i.is_multiple_of(3) { "stable" } else { "test" }.to_owned()),
        author: Some("vigil benchmarks".to_owned()),
        tags: vec![
            format!("attack.{}", tactics()[i % tactics().len()]),
            format!("attack.{}", TECHNIQUES[i % TECHNIQUES.len()]),
            format!("attack.{}", TECHNIQUES[(i / 7) % TECHNIQUES.len()]),
        ],
    }
}

/// User `i`'s account name and display name.
pub fn user(i: u64) -> (String, String) {
    let family = FAMILY[(i % 8) as usize];
    let given = GIVEN[((i / 8) % 8) as usize];
    (format!("user{i:04}"), format!("{family} {given}"))
}

pub fn host(agency: usize, n: u64) -> String {
    format!("{}-srv{n:02}", agency_short(agency))
}

fn agency_short(i: usize) -> String {
    format!("a{i:03}")
}

pub fn src_ip(r: u64) -> String {
    if r.is_multiple_of(5) {
        format!("203.0.113.{}", r % 250 + 1)
    } else {
        format!("10.{}.{}.{}", (r >> 8) % 63, (r >> 16) % 250, r % 250 + 1)
    }
}

/// The generator: `next` gives the alerts in event-time order over `days` from `start`.
#[derive(Clone, Debug)]
pub struct Generator {
    rng: Rng,
    pub start: DateTime<Utc>,
    pub days: i64,
    pub total: u64,
    n: u64,
    rules: Vec<AlertRule>,
    agencies: Vec<(String, usize)>,
}

impl Generator {
    pub fn new(seed: u64, start: DateTime<Utc>, days: i64, total: u64) -> Generator {
        Generator {
            rng: Rng::new(seed),
            start,
            days,
            total,
            n: 0,
            rules: (0..RULES).map(rule).collect(),
            agencies: (0..AGENCIES).map(agency).collect(),
        }
    }

    pub fn end(&self) -> DateTime<Utc> {
        self.start + Duration::days(self.days)
    }

    /// The next alert, or `None` after `total`.
    pub fn next_alert(&mut self) -> Option<Alert> {
        if self.n >= self.total {
            return None;
        }
        let n = self.n;
        self.n += 1;
        let r = &mut self.rng;
        let span_ms = self.days * 86_400_000;
        let ms = (n as i128 * span_ms as i128 / self.total.max(1) as i128) as i64 + r.below(1000) as i64;
        let time = self.start + Duration::milliseconds(ms);
        let agency = r.skewed(AGENCIES as u64) as usize;
        let (agency_name, province) = &self.agencies[agency];
        let rule = &self.rules[r.skewed(RULES as u64) as usize];
        let host = host(agency, r.skewed(HOSTS_PER_AGENCY));
        let (account, display) = user(r.skewed(USERS));
        let ip = src_ip(r.next_u64());
        let port = 1024 + r.below(60_000);
        let (message, extra): (String, Vec<(&str, String)>) = match r.below(6) {
            0 => (format!("Đăng nhập thất bại cho người dùng {account} ({display}) từ {ip}"), vec![]),
            1 => (format!("Failed password for {account} from {ip} port {port} ssh2"), vec![]),
            2 => (
                format!("Truy cập bị từ chối tới cổng dịch vụ công: /dvc/hoso/{port}"),
                vec![("url", format!("/dvc/hoso/{port}?ma={}", r.below(100_000)))],
            ),
            3 => (
                format!("Process Create: powershell.exe -enc {:x} by {account}", r.next_u64()),
                vec![
                    ("Image", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe".to_owned()),
                    ("CommandLine", format!("powershell.exe -nop -enc {:x}", r.next_u64())),
                ],
            ),
            4 => (format!("Tài khoản {account} đã được thêm vào nhóm quản trị trên {host}"), vec![]),
            _ => (format!("Accepted password for {account} from {ip} port {port}"), vec![]),
        };
        let mut fields = vigil_parsers::Fields::new();
        fields.insert("message".into(), Value::from(message.as_str()));
        fields.insert("user".into(), Value::from(account.as_str()));
        fields.insert("src_ip".into(), Value::from(ip.as_str()));
        fields.insert("host".into(), Value::from(host.as_str()));
        for (k, v) in extra {
            fields.insert(k.into(), Value::from(v));
        }
        let raw = format!("<38>{} {host} app[{}]: {message}", time.format("%b %e %H:%M:%S"), port % 5000);
        let id = format!("{:016x}{:016x}", Rng::new(n ^ 0x5eed).next_u64(), Rng::new(n).next_u64());
        Some(Alert {
            id,
            time,
            rule: rule.clone(),
            host: Some(host),
            agency: Some(agency_name.clone()),
            province: Some(PROVINCES[*province].to_owned()),
            fields,
            raw,
            source: AlertSource {
                name: Some(agency_short(agency)),
                transport: Some("tcp".into()),
                ..AlertSource::default()
            },
            correlation: None,
            building_block: false,
            suppressed: None,
        })
    }
}

impl Iterator for Generator {
    type Item = Alert;

    fn next(&mut self) -> Option<Alert> {
        self.next_alert()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_cover_every_province_and_agency_in_time_order() {
        let start = DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z").map(|t| t.to_utc()).unwrap_or_default();
        let alerts: Vec<Alert> = Generator::new(7, start, 30, 20_000).collect();
        assert_eq!(alerts.len(), 20_000);
        let provinces: std::collections::HashSet<_> = alerts.iter().filter_map(|a| a.province.clone()).collect();
        let agencies: std::collections::HashSet<_> = alerts.iter().filter_map(|a| a.agency.clone()).collect();
        assert_eq!(provinces.len(), 63);
        // Agencies are skewed (a few are busy): the quietest are rare in a small sample.
        assert!(agencies.len() >= 190, "{}", agencies.len());
        let all: std::collections::HashSet<_> = (0..AGENCIES).map(|i| agency(i).0).collect();
        assert_eq!(all.len(), 200, "200 distinct agencies");
        assert!(agencies.is_subset(&all));
        assert!(alerts.windows(2).all(|w| w[0].time <= w[1].time + Duration::seconds(1)));
        let ids: std::collections::HashSet<_> = alerts.iter().map(|a| a.id.clone()).collect();
        assert_eq!(ids.len(), alerts.len());
        assert!(alerts.last().is_some_and(|a| a.time < start + Duration::days(30) + Duration::seconds(1)));
        let again: Vec<Alert> = Generator::new(7, start, 30, 100).collect();
        let key = |a: &Alert| (a.id.clone(), a.agency.clone(), a.rule.id.clone(), a.fields.clone());
        assert!(again.iter().map(key).eq(alerts[..100].iter().map(key)), "deterministic");
    }
}
