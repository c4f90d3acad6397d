"""Per-tag table of a cwltest JUnit report (passed, failed, unsupported), for CONFORMANCE.md."""
import collections
import re
import sys
import xml.etree.ElementTree as ET


def main(xml_path, log_path=None):
    # cwltest's JUnit report counts a should-fail test that did not fail as passed;
    # its console log ("Test N failed") does not, so the log decides when given.
    failed_numbers = set()
    if log_path:
        for line in open(log_path, errors="replace"):
            match = re.match(r"Test (\d+) failed", line)
            if match:
                failed_numbers.add(match.group(1))
    by_tag = collections.defaultdict(collections.Counter)
    failed = []
    for case in ET.parse(xml_path).getroot().iter("testcase"):
        test_id = case.get("file") or case.get("name")
        tags = [t.strip() for t in (case.get("class") or "untagged").split(",") if t.strip()]
        status = "passed"
        if case.find("skipped") is not None:
            status = "unsupported"
        elif (
            case.find("failure") is not None
            or case.find("error") is not None
            or (case.get("url") or "").rsplit("#", 1)[-1] in failed_numbers
        ):
            status = "failed"
            failed.append(test_id)
        for tag in tags + ["(all)"]:
            by_tag[tag][status] += 1
    print("| tag | passed | failed | unsupported | total |")
    print("|---|---|---|---|---|")
    for tag in sorted(by_tag, key=lambda t: (t != "(all)", t)):
        c = by_tag[tag]
        print(f"| {tag} | {c['passed']} | {c['failed']} | {c['unsupported']} | {sum(c.values())} |")
    print()
    print("Failed: " + ", ".join(sorted(failed)))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
