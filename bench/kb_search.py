"""Benchmark: knowledge-base search over 5,000 articles (each in en, ru and uk: 15,000 texts)
on SQLite (FTS5) and PostgreSQL (tsvector + GIN). Target: p95 < 50 ms.

Run: ``.venv/bin/python bench/kb_search.py [--articles 5000] [--queries 300]
[--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres | --postgres '']``.

Seeds a fresh SQLite file and a throw-away PostgreSQL database with generated articles (60
common data-center words and 2,000 rarer names per language; each article about two common and
three rare words, ~120-word bodies; a third internal), then
times ``search_articles`` — what the desk's /kb and the requests' "resolve with article" call —
for a fixed mix of what people type: one word, a word being typed ("prin"), two or three words,
whole sentences (the all-words search finds nothing and the any-word one runs), a word nowhere;
as requesters (public only) and as the desk. Also times the JSON suggestion endpoint
(``/help/kb/suggest``) through the Flask test client. Prints p50/p95/max per backend.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, insert, text

from dutydesk import migrate
from dutydesk.app import create_app
from dutydesk.core.config import load_settings
from dutydesk.core.db import Database, utcnow
from dutydesk.requests.kb.models import ArticleRow, ArticleTextRow
from dutydesk.requests.kb.store import search_articles


def words(text: str) -> list[str]:
    return text.split()


WORDS = {
    "en": words("printer cartridge toner paper jam mail mailbox outbox relay vpn laptop password "
           "account locked reset network cable switch port rack server reboot disk backup "
           "restore share folder access permission monitor screen keyboard phone headset "
           "calendar meeting room projector wifi certificate browser update install licence "
           "client error slow queue storage quota badge door camera ups battery power"),
    "ru": words("принтер картридж тонер бумага почта ящик исходящие релей впн ноутбук пароль "
           "учётная запись блокировка сброс сеть кабель коммутатор порт стойка сервер "
           "перезагрузка диск резервная копия восстановление папка доступ права монитор экран "
           "клавиатура телефон гарнитура календарь встреча переговорная проектор сертификат "
           "браузер обновление установка лицензия клиент ошибка очередь хранилище квота "
           "пропуск дверь камера батарея питание"),
    "uk": words("принтер картридж тонер папір пошта скринька вихідні релей впн ноутбук пароль "
           "обліковий запис блокування скидання мережа кабель комутатор порт стійка сервер "
           "перезавантаження диск резервна копія відновлення тека доступ права монітор екран "
           "клавіатура телефон гарнітура календар зустріч переговорна проєктор сертифікат "
           "браузер оновлення встановлення ліцензія клієнт помилка черга сховище квота "
           "перепустка двері камера батарея живлення"),
}
FILLER = {"en": words("the a to of and please check then if it"),
          "ru": words("и в не на с что если то затем"),
          "uk": words("і в не на з що якщо то потім")}
QUERIES = [
    ("en", "printer"), ("en", "prin"), ("en", "toner cartridge"), ("en", "vpn laptop password"),
    ("en", "my laptop cannot reach the vpn since this morning please help"),
    ("en", "elephant"), ("ru", "принтер"), ("ru", "картриджи"), ("ru", "сброс пароля"),
    ("ru", "не могу подключиться к впн с нового ноутбука"), ("uk", "принтер не друкує"),
    ("uk", "скринька"), ("uk", "перезавантаження сервера у стійці"), ("en", "ups battery"),
    ("en", "mail stuck in outbox relay queue slow"), ("ru", "пропуск"),
]


def vocabulary(rng: random.Random, language: str) -> list[str]:
    """The common words plus 2,000 rarer ones (systems, models, places) as a real KB has."""
    stems = WORDS[language]
    return stems + [f"{rng.choice(stems)}{rng.choice(['', '-', ''])}{n}" for n in range(2000)]


def seed(db: Database, articles: int) -> None:
    """Articles about a topic: two common words and three rarer ones in the title and often in
    the body, the rest filler and now and then any common word (a third internal)."""
    rng = random.Random(17)
    now = utcnow()
    words = {language: vocabulary(rng, language) for language in WORDS}
    rows, texts = [], []
    for n in range(1, articles + 1):
        rows.append({"id": n, "slug": f"article-{n}", "visibility": "internal" if n % 3 == 0
                     else "public", "services": [rng.choice(["mail", "vpn", "printing"])],
                     "catalog_item_ids": [], "archived": False, "use_count": 0,
                     "deflection_count": 0, "version": 1, "created_at": now, "updated_at": now,
                     "updated_by": "bench"})
        for language, common in WORDS.items():
            topic = rng.sample(common, 2) + rng.sample(words[language][len(common):], 3)
            body = []
            for _ in range(120):
                roll = rng.random()
                body.append(rng.choice(topic) if roll < 0.25 else rng.choice(common)
                            if roll < 0.30 else rng.choice(FILLER[language]))
            texts.append({"article_id": n, "language": language,
                          "title": " ".join(topic).capitalize(), "body": " ".join(body)})
    with db.session() as s:
        for start in range(0, len(rows), 1000):
            s.execute(insert(ArticleRow), rows[start:start + 1000])
        for start in range(0, len(texts), 1000):
            s.execute(insert(ArticleTextRow), texts[start:start + 1000])
    if db.engine.dialect.name == "postgresql":  # as a KB that was not bulk-loaded a second ago
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE kb_article_texts"))
            conn.execute(text("VACUUM ANALYZE kb_articles"))


def figures(label: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    verdict = "MET" if p95 < 50 else "MISSED"
    return (f"  {label:34} p50 {statistics.median(ordered):6.1f} ms   p95 {p95:6.1f} ms   "
            f"max {ordered[-1]:6.1f} ms   ({len(ordered)} queries; p95 < 50 ms {verdict})")


def run(url: str, name: str, args: Any) -> None:
    db = Database(url)
    migrate.upgrade(db)
    started = time.perf_counter()
    seed(db, args.articles)
    print(f"{name}: {args.articles} articles × 3 languages seeded in "
          f"{time.perf_counter() - started:.1f} s")
    rng = random.Random(3)
    plan = [(*rng.choice(QUERIES), rng.random() < 0.5) for _ in range(args.queries)]
    samples: dict[str, list[float]] = {"requesters (public only)": [], "the desk (all)": []}
    hits = 0
    by_query: dict[str, list[float]] = {}
    with db.session() as s:
        for language, query, public in plan[:20]:  # warm the caches
            search_articles(s, query, language=language, public_only=public)
        for language, query, public in plan:
            t0 = time.perf_counter()
            found = search_articles(s, query, language=language, public_only=public,
                                    service="vpn", limit=10)
            took = (time.perf_counter() - t0) * 1000
            samples["requesters (public only)" if public else "the desk (all)"].append(took)
            by_query.setdefault(query, []).append(took)
            hits += bool(found)
    settings = load_settings({"env": "testing", "database_url": url, "secret_key": "b" * 40,
                              "log_level": "WARNING"}, environ={})
    client = create_app(settings, db=db).test_client()
    endpoint: list[float] = []
    for language, query, _public in plan:
        t0 = time.perf_counter()
        answer = client.get("/help/kb/suggest", query_string={"q": query, "lang": language})
        endpoint.append((time.perf_counter() - t0) * 1000)
        assert answer.status_code == 200
    for label, values in samples.items():
        print(figures(f"search_articles, {label}", values))
    print(figures("GET /help/kb/suggest (JSON)", endpoint))
    print(f"  {hits} of {len(plan)} searches found something; slowest (median):")
    for query, values in sorted(by_query.items(), key=lambda kv: -statistics.median(kv[1]))[:3]:
        print(f"    {statistics.median(values):6.1f} ms  {query!r}")
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/"
                                              "postgres", help="admin URL; '' to skip")
    args = parser.parse_args()
    with open("/proc/loadavg") as f:
        print(f"load average {f.read().split()[0]} on {utcnow().date().isoformat()}")
    tmp = Path(tempfile.mkdtemp(prefix="dutydesk-bench-"))
    run(f"sqlite:///{tmp / 'bench.sqlite'}", "SQLite (FTS5)", args)
    if args.postgres:
        name = f"dutydesk_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            run(args.postgres.rsplit("/", 1)[0] + "/" + name, "PostgreSQL (tsvector + GIN)",
                args)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
