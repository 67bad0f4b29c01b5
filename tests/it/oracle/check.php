<?php
// The oracle's judge: is each migrated value what PHP itself says it must be?
//
// Input: argv[1] = a file of "hex(from) hex(to)" lines (the replacement pairs,
// hand-written by the test, JSON-escaped forms included); argv[2] = a file of
// "hex(source value) hex(target value)" lines. For a value PHP can
// unserialize, the target must unserialize to the source's value with strtr
// applied to every string inside it (not to array keys, property names or
// class names), recursing into strings that are themselves serialized. Any
// other value must be byte for byte strtr(source, pairs).
// Output: one line "BAD <index> <hex(expected)>" per wrong value, then
// "OK <n> <how many source values were serialized>".
error_reporting(E_ALL & ~E_DEPRECATED & ~E_WARNING & ~E_NOTICE);
ini_set('serialize_precision', '-1');

function looks_serialized($s) {
    $t = trim($s);
    if ($t === 'N;') return true;
    if (strlen($t) < 4 || $t[1] !== ':') return false;
    return in_array($t[0], ['s', 'a', 'O', 'C', 'E', 'i', 'd', 'b'], true)
        && in_array(substr($t, -1), [';', '}'], true);
}
function parse($s) {
    if (!looks_serialized($s)) return [false, null];
    $u = @unserialize($s, ['allowed_classes' => false]);
    if ($u === false && trim($s) !== 'b:0;') return [false, null];
    return [true, $u];
}
function canon($v, $pairs) {
    if (is_string($v)) {
        [$ok, $u] = parse($v);
        if ($ok) return ['__ser' => canon($u, $pairs)];
        return $pairs === null ? $v : strtr($v, $pairs);
    }
    if (is_array($v)) { $o = []; foreach ($v as $k => $x) { $o[$k] = canon($x, $pairs); } return $o; }
    if (is_object($v)) {
        $props = [];
        foreach ((array)$v as $k => $x) {
            // The class name of an unknown class is kept as it is.
            $props[$k] = $k === '__PHP_Incomplete_Class_Name' ? $x : canon($x, $pairs);
        }
        return ['__class' => get_class($v), 'props' => $props];
    }
    if (is_float($v)) return ['__float' => bin2hex(pack('E', $v))];
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
    [$ok, $u] = parse($src);
    if ($ok) {
        $ser++;
        [$ok2, $d] = parse($dst);
        $good = $ok2 && canon($d, null) === canon($u, $pairs);
        $want = serialize(canon($u, $pairs));
    } else {
        $want = strtr($src, $pairs);
        $good = $dst === $want;
    }
    if (!$good) echo "BAD $n ", bin2hex($want), "\n";
    $n++;
}
echo "OK $n $ser\n";
