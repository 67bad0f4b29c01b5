<?php
// The oracle's judge: is each migrated value, byte for byte, what PHP itself
// says it must be?
//
// Input: argv[1] = a file of "hex(from) hex(to)" lines (the replacement pairs,
// hand-written by the test, JSON-escaped forms included); argv[2] = a file of
// "hex(source value) hex(target value)" lines.
//
// A value PHP can unserialize must become PHP's own serialize() of the
// source's structure with strtr applied to every string inside it (not to
// array keys, property names, class names or enum cases), recursing into
// strings that are themselves serialized and into the payload of a class
// that writes its own (`C:`). Bytes after the serialized value that are
// not whitespace (junk unserialize() ignores) get plain strtr; leading and
// trailing whitespace stays. Any other value must be strtr(source, pairs).
// A serialized source that is not what serialize() writes for its own
// structure cannot be judged byte for byte: it is reported, never passed.
//
// Output: one line "BAD <index> <hex(expected)>" per wrong value, one
// "ODD <index>" per source value that cannot be judged, then
// "OK <n> <how many source values were serialized>".
error_reporting(E_ALL & ~E_DEPRECATED & ~E_WARNING & ~E_NOTICE);
ini_set('serialize_precision', '-1');

// The classes the generator stores values of (src/testbed/php.rs): one that
// writes its own payload (the old Serializable interface, `C:` in the
// database), and an enum (`E:`). Every other class stays unknown, so its
// objects come back as __PHP_Incomplete_Class and keep their class name.
class WFU_Legacy_Cache implements Serializable {
    public $data;
    public function serialize() { return serialize($this->data); }
    public function unserialize($s) { $this->data = unserialize($s, ALLOWED); }
}
enum WFU_Status: string { case Live = 'live'; case Draft = 'draft'; case Archived = 'archived'; }
const ALLOWED = ['allowed_classes' => ['WFU_Legacy_Cache']];
const WS = " \t\n\r\x0C";

function looks_serialized($s) {
    $t = trim($s, WS);
    if ($t === 'N;') return true;
    if (strlen($t) < 4 || $t[1] !== ':') return false;
    return in_array($t[0], ['s', 'a', 'O', 'C', 'E', 'i', 'd', 'b'], true)
        && in_array(substr($t, -1), [';', '}'], true);
}

// [parsed?, value]
function parse($s) {
    if (!looks_serialized($s)) return [false, null];
    $u = @unserialize($s, ALLOWED);
    if ($u === false && trim($s, WS) !== 'b:0;') return [false, null];
    return [true, $u];
}

class Odd extends Exception {}

// The bytes a migration must turn $s into.
function expected($s, $pairs) {
    [$ok, $u] = parse($s);
    if (!$ok) return strtr($s, $pairs);
    $body = ltrim($s, WS);
    $lead = substr($s, 0, strlen($s) - strlen($body));
    $head = serialize($u);
    if (strncmp($body, $head, strlen($head)) !== 0) throw new Odd();
    $tail = substr($body, strlen($head));
    $tail = trim($tail, WS) === '' ? $tail : strtr($tail, $pairs);
    return $lead . serialize(replaced($u, $pairs)) . $tail;
}

// $v with every string inside it replaced.
function replaced($v, $pairs) {
    if (is_string($v)) return expected($v, $pairs);
    if (is_array($v)) {
        $o = [];
        foreach ($v as $k => $x) $o[$k] = replaced($x, $pairs);
        return $o;
    }
    if ($v instanceof UnitEnum) return $v;
    if ($v instanceof WFU_Legacy_Cache) {
        $o = new WFU_Legacy_Cache();
        $o->data = replaced($v->data, $pairs);
        return $o;
    }
    if (is_object($v)) {
        $props = (array)$v;
        $class = get_class($v);
        if (array_key_exists('__PHP_Incomplete_Class_Name', $props)) {
            $class = $props['__PHP_Incomplete_Class_Name'];
            unset($props['__PHP_Incomplete_Class_Name']);
        }
        $props = replaced($props, $pairs);
        // An object of the same class with these (raw) property names: PHP
        // builds it from the array's own serialization.
        $o = unserialize('O:' . strlen($class) . ':"' . $class . '"' . substr(serialize($props), 1), ALLOWED);
        if ($o === false) throw new Odd();
        return $o;
    }
    return $v;
}

$pairs = [];
foreach (file($argv[1], FILE_IGNORE_NEW_LINES) as $line) {
    [$f, $t] = explode(' ', $line . ' ');
    $pairs[hex2bin($f)] = hex2bin($t);
}
$n = 0; $ser = 0;
$in = fopen($argv[2], 'r');
while (($line = fgets($in)) !== false) {
    $line = rtrim($line, "\n");
    [$a, $b] = explode(' ', $line . ' ');
    $src = hex2bin($a); $dst = hex2bin($b);
    if (parse($src)[0]) $ser++;
    try {
        $want = expected($src, $pairs);
        if ($dst !== $want) echo "BAD $n ", bin2hex($want), "\n";
    } catch (Odd $e) {
        echo "ODD $n\n";
    }
    $n++;
}
echo "OK $n $ser\n";
