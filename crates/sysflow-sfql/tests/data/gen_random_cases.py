#!/usr/bin/env python3
"""Regenerates random_cases.json: random sfql queries built from the values found in small traces, and the
records the reference (sysflow-tools 0.6.1) matches for each. Queries on which the reference raises are dropped, as
are the attributes and operators where this crate deviates on purpose (`<=`, `net.ip`, `net.port`,
`file.is_open_*`, `file.openflags`).

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install sysflow-tools==0.6.1
    /tmp/venv/bin/python gen_random_cases.py ../../../../../shared/traces > random_cases.json
"""
import json
import random
import re
import sys

from antlr4 import CommonTokenStream, InputStream
from antlr4.error.ErrorListener import ErrorListener
from sysflow.grammar.sfqlLexer import sfqlLexer
from sysflow.grammar.sfqlParser import sfqlParser
from sysflow.reader import FlattenedSFReader
from sysflow.sfql import SfqlInterpreter, SfqlMapper

TRACES = [
    'sf-collector/tests/files/files.sf',
    'sf-collector/tests/rename/rename.sf',
    'sf-collector/tests/setuid/setuid.sf',
    'sf-apis/pynb/data/nginx/nginx.sf',
    'synthetic/all_types_v5.null.sf',
]
PER_TRACE = 300
SKIP_ATTRS = {'net.ip', 'net.port', 'file.is_open_write', 'file.is_open_read', 'file.openflags'}
KEYWORDS = {'sfql', 'rule', 'macro', 'list', 'items', 'condition', 'desc', 'action', 'priority', 'tags', 'and', 'or',
            'not', 'in', 'contains', 'icontains', 'startswith', 'pmatch', 'exists', 'high', 'medium', 'low', 'none'}
PLAIN = re.compile(r'^(?:[A-Za-z0-9_][A-Za-z0-9_\-.*]*|[A-Za-z/][A-Za-z0-9_\-./*]*)$')


def lit(s):
    """An sfql literal for text s, or None when it cannot be written."""
    if PLAIN.match(s) and s not in KEYWORDS:
        return s
    if '"' in s or '\n' in s or '\r' in s or "'" in s or '\\' in s:
        return None
    return '"' + s + '"'


class Count(ErrorListener):
    def __init__(self):
        self.errors = 0

    def syntaxError(self, *args):
        self.errors += 1


def clean_parse(query):
    """Whether the reference lexes and parses '- sfql: ' + query without any error (it would otherwise evaluate a
    repaired parse, which this crate reports as an error instead)."""
    count = Count()
    lexer = sfqlLexer(InputStream('- sfql: ' + query))
    lexer.removeErrorListeners()
    lexer.addErrorListener(count)
    stream = CommonTokenStream(lexer)
    stream.fill()
    if any(t.type == sfqlLexer.ANY for t in stream.tokens):
        return False
    parser = sfqlParser(stream)
    parser.removeErrorListeners()
    parser.addErrorListener(count)
    parser.definitions()
    return count.errors == 0 and stream.LA(1) == -1


def reset():
    SfqlInterpreter._macros.clear()
    SfqlInterpreter._lists.clear()
    SfqlInterpreter._rules.clear()
    SfqlInterpreter._criteria = None
    SfqlMapper._ptree.clear()


def main():
    root = sys.argv[1]
    rnd = random.Random(7)
    mapper = SfqlMapper()
    attrs = [a for a in mapper._mapper if a not in SKIP_ATTRS]
    out = []
    for trace in TRACES:
        recs = list(FlattenedSFReader(root + '/' + trace, False))
        values = {a: set() for a in attrs}
        ints = {a: set() for a in attrs}
        for t in recs:
            for a in attrs:
                try:
                    v = mapper._mapper[a](t)
                except Exception:
                    continue
                for piece in str(v).split(','):
                    values[a].add(piece)
                    if isinstance(v, int) and not isinstance(v, bool):
                        ints[a].add(v)
        words = sorted({w for vs in values.values() for p in vs for w in re.split(r'[/ =]', p) if w})

        def literal(a):
            pool = sorted(values[a]) if values[a] and rnd.random() < 0.8 else words
            for _ in range(5):
                s = rnd.choice(pool)
                if rnd.random() < 0.3 and len(s) > 2:
                    i = rnd.randrange(len(s))
                    s = s[i:i + rnd.randint(1, 4)]
                lt = lit(s)
                if lt:
                    return lt
            return 'x'

        def leaf():
            a = rnd.choice(attrs)
            name = ('sf.' + a) if rnd.random() < 0.05 else a
            k = rnd.random()
            if k < 0.1:
                return name + ' exists'
            if k < 0.25 and ints[a]:
                n = rnd.choice(sorted(ints[a])) + rnd.choice([-1, 0, 0, 1])
                return '%s %s %s' % (name, rnd.choice(['<', '>', '>=']), ('"%d"' % n) if n < 0 else n)
            if k < 0.4:
                items = ', '.join(literal(a) for _ in range(rnd.randint(1, 3)))
                return '%s %s (%s)' % (name, rnd.choice(['in', 'pmatch']), items)
            op = rnd.choice(['=', '=', '!=', 'contains', 'icontains', 'startswith'])
            return '%s %s %s' % (name, op, literal(a))

        def expr(depth):
            k = rnd.random()
            if depth <= 0 or k < 0.4:
                return leaf()
            if k < 0.55:
                return 'not ' + ('(' + expr(depth - 1) + ')' if rnd.random() < 0.5 else leaf())
            if k < 0.7:
                return '(' + expr(depth - 1) + ')'
            return '%s %s %s' % (expr(depth - 1), rnd.choice(['and', 'or']), expr(depth - 1))

        kept = 0
        tries = 0
        while kept < PER_TRACE:
            q = expr(3)
            tries += 1
            if not clean_parse(q):
                continue
            reset()
            try:
                interp = SfqlInterpreter()
                interp.compile(q)
                idx = [i for i, t in enumerate(recs) if interp._criteria(t)]
            except Exception:
                continue
            out.append({'trace': trace, 'query': q, 'matches': idx})
            kept += 1
        print('%s: %d kept of %d' % (trace, kept, tries), file=sys.stderr)
    print('[\n' + ',\n'.join(json.dumps(c, ensure_ascii=True) for c in out) + '\n]')


if __name__ == '__main__':
    main()
