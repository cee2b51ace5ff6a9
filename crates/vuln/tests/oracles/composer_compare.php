<?php
// Differential-test oracle: reads "a<TAB>b" lines on stdin, normalises both with composer/semver's VersionParser
// and prints Comparator's order (-1, 0, 1), or "x" when a version does not normalise or is a dev- branch.
// Argument 1: the composer/semver autoload.php (Debian's php-composer-semver).
require $argv[1];

use Composer\Semver\Comparator;
use Composer\Semver\VersionParser;

$parser = new VersionParser();
while (($line = fgets(STDIN)) !== false) {
    $parts = explode("\t", rtrim($line, "\n"), 2);
    if (count($parts) !== 2) {
        echo "x\n";
        continue;
    }
    try {
        $a = $parser->normalize($parts[0]);
        $b = $parser->normalize($parts[1]);
    } catch (\UnexpectedValueException $e) {
        echo "x\n";
        continue;
    }
    if (strpos($a, 'dev-') === 0 || strpos($b, 'dev-') === 0) {
        echo "x\n";
    } elseif (Comparator::lessThan($a, $b)) {
        echo "-1\n";
    } elseif (Comparator::equalTo($a, $b)) {
        echo "0\n";
    } elseif (Comparator::greaterThan($a, $b)) {
        echo "1\n";
    } else {
        echo "x\n";
    }
}
