#!/usr/bin/env python3
"""Regenerates lexer_cases.json: token streams of the reference sfql lexer (sysflow-tools 0.6.1,
antlr4-python3-runtime 4.9.2) for hand-picked and random inputs.

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install sysflow-tools==0.6.1
    /tmp/venv/bin/python gen_lexer_cases.py > lexer_cases.json
"""
import json
import random

from antlr4 import InputStream
from sysflow.grammar.sfqlLexer import sfqlLexer

HAND = [
    '"abc def"', "'abc'", '"a" or "b"', '""', '""x""', '"a""b"', '\\"x\\"', "''x''", "''", '12', '1.5',
    'bash', 'usr/bin', 'a:b', 'proc.args[1]', 'x[1:/a]', 'x[a:b:c]', 'x:[1]', 'x[1.]', 'none', 'nonex', '-1',
    '.so', 'a#b c', 'android', '"a"b"', "'a\"b'", '"unterminated', 'sf.proc.pid', ':  >', ': x', 'a*b-c',
    '127.0.0.1', '/a/b.c', 'x/1', '$x', '\u00e9', '"\u00e9"', '"" or ""', 'x = "" or y = ""', "'' or ''",
    '"\\"a\\"" b', '"\'a\'" x"', '"a" "b"', '""a" "b""', '"x" = "y"', '"""', '""""', '"\\"', '\\"a"',
    "'''a'''", '"a\nb"', '"ab', '"a\\"b"', "''a'' or ''b''", 'proc.pid<=5', 'a!=b', 'a !b', 'type=PE',
    'proc.name in (a, "b", [c, d])', '- macro: m\n  condition: >\n    a = b', 'high medium low', 'tags: [a:b]',
    'priority', 'desc:', 'exists', 'icontains', 'startswith', 'pmatch', 'containsx', 'x:y:z', 'a:1', '1:a',
]

ALPHABET = ['"', "'", '\\', 'a', 'b', '1', '.', '/', ':', '[', ']', '-', '#', ' ', ',', '(', ')', '<', '=',
            '>', '!', '\n', '_', '*', 'in', 'or', 'none', 'x', '\t', 'é']


def tokens(s):
    lx = sfqlLexer(InputStream(s))
    lx.removeErrorListeners()
    return [[sfqlLexer.symbolicNames[t.type], t.text] for t in lx.getAllTokens() if t.channel == 0]


def main():
    rnd = random.Random(20240601)
    cases = list(HAND)
    for _ in range(2000):
        cases.append(''.join(rnd.choice(ALPHABET) for _ in range(rnd.randint(1, 12))))
    quotes = ['"', "'", '\\', 'a', ' ', '\n']
    for _ in range(1500):
        cases.append(''.join(rnd.choice(quotes) for _ in range(rnd.randint(1, 20))))
    lines = [json.dumps({'input': c, 'tokens': tokens(c)}, ensure_ascii=True) for c in cases]
    print('[\n' + ',\n'.join(lines) + '\n]')


if __name__ == '__main__':
    main()
