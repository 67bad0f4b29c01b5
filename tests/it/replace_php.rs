//! Cross-check against real PHP: values made by PHP's own `serialize`,
//! rewritten by the engine, must `unserialize` in PHP to exactly what a PHP
//! recursive `strtr` of the original gives.
//!
//! Fails when `php` is not installed (CI installs `php-cli`): a check that
//! cannot run must not pass.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use wfuwp_replace::{stream_sql_dump, Replacer, ValueStats};

/// Generates values (mode `gen`) and checks rewritten ones (mode `check`).
/// Data is exchanged as hex so NUL bytes and multibyte text survive.
const SCRIPT: &str = r#"<?php
error_reporting(E_ALL & ~E_DEPRECATED);
ini_set('serialize_precision', '-1');

class Post {
    public $guid; protected $home; private $secret; public $meta;
    function __construct($g, $h, $s, $m) { $this->guid = $g; $this->home = $h; $this->secret = $s; $this->meta = $m; }
}
class Legacy implements Serializable {
    public $data;
    function __construct($d = null) { $this->data = $d; }
    function serialize() { return serialize($this->data); }
    function unserialize($s) { $this->data = unserialize($s); }
}
enum Suit: string { case Hearts = 'https://www.x.edu/'; }

function atoms() {
    return ['www.x.edu', '.x.edu', 'https://www.x.edu/', 'https:\/\/www.x.edu\/', 'é', '日本', '"', '";', '}', '{',
            'a', ' ', "\0", '\\', "'", 'x.edu', 's:1:"', 'www.x.ed'];
}
function rnd_text() {
    $a = atoms(); $s = '';
    for ($j = mt_rand(0, 6); $j > 0; $j--) { $s .= $a[mt_rand(0, count($a) - 1)]; }
    return $s;
}
function rnd($d) {
    switch (mt_rand(0, $d > 0 ? 7 : 3)) {
        case 0: case 1: return rnd_text();
        case 2: return mt_rand(0, 1) ? mt_rand(-1000, 1000) : (mt_rand(0, 1) ? 1.0 / 3 : 1e300);
        case 3: return mt_rand(0, 1) ? null : (bool)mt_rand(0, 1);
        case 4: $a = [];
            for ($j = mt_rand(0, 4); $j > 0; $j--) { $a[mt_rand(0, 1) ? rnd_text() : mt_rand(0, 9)] = rnd($d - 1); }
            return $a;
        case 5: $o = new stdClass;
            for ($j = mt_rand(0, 3); $j > 0; $j--) { $o->{'p' . rnd_text()} = rnd($d - 1); }
            return $o;
        case 6: return new Post(rnd($d - 1), rnd($d - 1), rnd($d - 1), rnd($d - 1));
        default: return serialize(rnd($d - 1));
    }
}
function values() {
    $u = 'https://www.x.edu/path';
    $v = [];
    $v[] = $u;
    $v[] = ['siteurl' => $u, 'https://www.x.edu/key' => 'http://blog.x.edu/', 5 => 'café www.x.edu 日本'];
    $v[] = [[[['deep' => 'https://www.x.edu/a']]]];
    $v[] = new Post('https://www.x.edu/?p=1', 'http://www.x.edu', 'sub.x.edu', ['a' => 'x.x.edu']);
    $o = new stdClass; $o->{'https://www.x.edu'} = 'https://www.x.edu'; $o->nums = [1.5, 0.1, 1e100, -0.0, 1/3, true, null, 42];
    $v[] = $o;
    $v[] = ['inner' => serialize(['url' => 'https://www.x.edu/', 'n' => serialize('http://a.x.edu')])];
    $v[] = ['quote' => 'say "www.x.edu"; } {s:1:"x";}', 'nul' => "a\0www.x.edu\0", 'sq' => "it's www.x.edu"];
    $v[] = new Legacy(['u' => 'https://www.x.edu/legacy', 'o' => new Post('www.x.edu', 1, 2, 3)]);
    $v[] = [Suit::Hearts, 'https://www.x.edu/'];
    $r = ['a' => 'https://www.x.edu/r']; $r['ref'] = &$r['a']; $v[] = $r;
    $p = new Post('www.x.edu', 'a', 'b', null); $v[] = [$p, $p];
    $v[] = ['json' => json_encode(['url' => 'https://www.x.edu/a'])];
    $v[] = str_repeat('x', 91) . 'www.x.edu';
    $v[] = ['k' => str_repeat('é', 40) . '.x.edu', 'nine' => 'a.x.edu', 'ten' => 'ab.x.edu'];
    $v[] = '';
    $v[] = [''];
    mt_srand(20250817);
    for ($i = 0; $i < 400; $i++) { $v[] = rnd(4); }
    return $v;
}
function looks_serialized($s) {
    $t = trim($s);
    if ($t === 'N;') return true;
    if (strlen($t) < 4 || $t[1] !== ':') return false;
    return in_array($t[0], ['s', 'a', 'O', 'C', 'E', 'i', 'd', 'b'], true) && in_array(substr($t, -1), [';', '}'], true);
}
// A comparable picture of a value; with $pairs, strtr applied to every string
// value (not keys, property names or class names), recursing into serialized strings.
function canon($v, $pairs) {
    if (is_string($v)) {
        if (looks_serialized($v)) {
            $u = @unserialize($v);
            if ($u !== false || trim($v) === 'b:0;') return ['__ser' => canon($u, $pairs)];
        }
        return $pairs === null ? $v : strtr($v, $pairs);
    }
    if (is_array($v)) { $o = []; foreach ($v as $k => $x) { $o[$k] = canon($x, $pairs); } return $o; }
    if ($v instanceof UnitEnum) return ['__enum' => get_class($v) . '::' . $v->name];
    if ($v instanceof Legacy) return ['__legacy' => canon($v->data, $pairs)];
    if (is_object($v)) return ['__class' => get_class($v), 'props' => canon((array)$v, $pairs)];
    if (is_float($v)) return ['__float' => bin2hex(pack('E', $v))];
    return $v;
}

if ($argv[1] === 'gen') {
    foreach (values() as $v) { echo bin2hex(serialize($v)), "\n"; }
    exit(0);
}
$pairs = [];
foreach (file($argv[2], FILE_IGNORE_NEW_LINES) as $line) {
    [$f, $t] = explode(' ', $line . ' ');
    $pairs[hex2bin($f)] = hex2bin($t);
}
$n = 0; $bad = 0;
foreach (file($argv[3], FILE_IGNORE_NEW_LINES) as $i => $line) {
    [$orig, $new] = array_map('hex2bin', explode(' ', $line));
    $u = @unserialize($new);
    if ($u === false && $new !== 'b:0;') { echo "value $i does not unserialize: $new\n"; $bad++; continue; }
    if (canon($u, null) !== canon(unserialize($orig), $pairs)) {
        echo "value $i differs:\n  orig: $orig\n  new:  $new\n  want: ", serialize(canon(unserialize($orig), $pairs)), "\n"; $bad++;
    }
    $n++;
}
echo "checked $n, bad $bad\n";
exit($bad ? 1 : 0);
"#;

/// How many values `values()` in the script writes before the random ones.
const HAND_WRITTEN: usize = 17;

fn hex(b: &[u8]) -> String {
    b.iter()
        .fold(String::with_capacity(b.len() * 2), |mut s, x| {
            let _ = write!(s, "{x:02x}");
            s
        })
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("php writes hex"))
        .collect()
}

fn php(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("php")
        .arg(dir.join("check.php"))
        .args(args)
        .output()
        .expect("php runs")
}

#[test]
fn php_unserializes_what_the_engine_writes() {
    match Command::new("php").arg("-v").output() {
        Ok(o) if o.status.success() => {}
        // A missing PHP must not turn this check into a silent pass.
        other => panic!(
            "the PHP cross-check needs `php` (install php-cli; CI does): `php -v` gave {other:?}"
        ),
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("check.php"), SCRIPT).unwrap();
    let gen = php(dir.path(), &["gen"]);
    assert!(
        gen.status.success(),
        "php gen failed: {}",
        String::from_utf8_lossy(&gen.stderr)
    );
    let originals: Vec<Vec<u8>> = String::from_utf8(gen.stdout)
        .unwrap()
        .lines()
        .map(unhex)
        .collect();
    assert!(originals.len() > 400);

    let r = Replacer::new(&[
        ("www.x.edu".to_string(), "uat.x.edu".to_string()),
        (".x.edu".to_string(), ".uat.x.edu".to_string()),
        (
            "https://www.x.edu".to_string(),
            "https://uat.example.org".to_string(),
        ),
    ])
    .unwrap();
    let mut total = ValueStats::default();
    let mut lines = String::new();
    for (i, orig) in originals.iter().enumerate() {
        let got = r.replace_value(orig);
        // The hand-written values come first; random text may legitimately
        // look serialized without being so, the hand-written values never do.
        if i < HAND_WRITTEN {
            assert_eq!(got.stats.malformed_serialized, 0, "value {i}");
        }
        total += got.stats;
        writeln!(lines, "{} {}", hex(orig), hex(&got.value)).unwrap();
    }
    assert!(total.serialized_rewritten > 100, "{total:?}");

    let pairs: String = r
        .effective_pairs()
        .iter()
        .map(|(f, t)| format!("{} {}\n", hex(f), hex(t)))
        .collect();
    std::fs::write(dir.path().join("pairs.txt"), pairs).unwrap();
    std::fs::write(dir.path().join("values.txt"), lines).unwrap();
    let (pairs_path, values_path) = (dir.path().join("pairs.txt"), dir.path().join("values.txt"));
    let check = php(
        dir.path(),
        &[
            "check",
            &pairs_path.to_string_lossy(),
            &values_path.to_string_lossy(),
        ],
    );
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        report.contains(&format!("checked {}, bad 0", originals.len())),
        "{report}"
    );
}

#[test]
fn stream_mode_keeps_php_values_intact() {
    assert!(
        Command::new("php")
            .arg("-v")
            .output()
            .is_ok_and(|o| o.status.success()),
        "this check needs `php` (install php-cli; CI does)"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("check.php"), SCRIPT).unwrap();
    let gen = php(dir.path(), &["gen"]);
    let originals: Vec<Vec<u8>> = String::from_utf8(gen.stdout)
        .unwrap()
        .lines()
        .map(unhex)
        .collect();
    let r = Replacer::new(&[("www.x.edu".to_string(), "uat.x.edu".to_string())]).unwrap();
    // The same values through a dump: stream mode must agree with the value API.
    let mut dump = Vec::new();
    let mut expected = Vec::new();
    for (i, v) in originals.iter().enumerate() {
        let new = r.replace_value(v).value.into_owned();
        for (out, val) in [(&mut dump, v), (&mut expected, &new)] {
            out.extend_from_slice(format!("INSERT INTO `wp_options` VALUES ({i},'").as_bytes());
            out.extend_from_slice(&escape(val));
            out.extend_from_slice(b"');\n");
        }
    }
    let mut out = Vec::new();
    stream_sql_dump(&r, dump.as_slice(), &mut out).unwrap();
    assert!(out == expected, "stream output differs from the value API");
}

fn escape(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for &b in v {
        match b {
            0 => out.extend_from_slice(b"\\0"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\\' | b'\'' | b'"' => out.extend_from_slice(&[b'\\', b]),
            0x1a => out.extend_from_slice(b"\\Z"),
            _ => out.push(b),
        }
    }
    out
}
