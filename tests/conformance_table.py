"""Per-tag table of a cwltest JUnit report (passed, failed, unsupported), for CONFORMANCE.md."""
import collections
import sys
import xml.etree.ElementTree as ET


def main(xml_path):
    by_tag = collections.defaultdict(collections.Counter)
    failed = []
    for case in ET.parse(xml_path).getroot().iter("testcase"):
        test_id = case.get("file") or case.get("name")
        tags = [t.strip() for t in (case.get("class") or "untagged").split(",") if t.strip()]
        status = "passed"
        if case.find("skipped") is not None:
            status = "unsupported"
        elif case.find("failure") is not None or case.find("error") is not None:
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
    main(sys.argv[-1])
