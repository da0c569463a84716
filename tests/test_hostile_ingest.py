"""Hostile and faulty input to `toolkit ingest` (issue 12): every case is generated here.

Decoding is measured on a corpus of news paragraphs in several languages, each encoded in
UTF-8/16 and in the legacy encodings it is published in; the decoded text must be exactly
the original. Then the crashes, silent losses and leaks of the issue, one test each.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fcntl
import gzip
import json
import math
import os
import random
import re
import tracemalloc

import pytest

from toolkit.articles import article_ids, article_texts, read_articles
from toolkit.config import BOUNDS, Config, config_from_dict
from toolkit.errors import ConfigError, InputError, OutputError
from toolkit.ingest import REJECTION_REASONS, clean, ingest

from .conftest import SEED, add_raw

# Realistic news paragraphs, each with the legacy encodings it is published in besides UTF-8.
WESTERN = ("latin-1", "cp1252", "iso-8859-15")
CENTRAL = ("cp1250", "iso-8859-2")
SAMPLES = {
    "fr": ("Attaque à Besançon : deux blessés après une fusillade près de la gare Viotte. Selon la "
           "préfecture, l'auteur présumé a été interpellé vers 23 heures. « Nous avons entendu des "
           "détonations, puis des cris », raconte une riveraine. L'enquête a été confiée à la police "
           "judiciaire, qui n'exclut aucune piste.", WESTERN),
    "fr-typo": ("Selon la préfecture, l’auteur présumé a été interpellé vers 23 heures. « Nous avons "
                "entendu des détonations… », raconte une riveraine. L’enquête a été confiée à la police "
                "judiciaire, qui n’exclut aucune piste — pas même celle d’un règlement de comptes.", ("cp1252",)),
    "fr-short": ("Attaque à Besançon : un blessé grave, le suspect arrêté après une course-poursuite", WESTERN),
    "fr-oe-euro": ("Le prix du bœuf a augmenté de 15 € le kilo en un an, selon l'Insee. Les éleveurs "
                   "dénoncent des marges « indécentes » de la grande distribution et réclament "
                   "une loi plus sévère.", ("cp1252", "iso-8859-15")),
    "de": ("Großbrand in Düsseldorf: Feuerwehr rettet 14 Menschen aus einem Wohnhaus. Nach Angaben "
           "der Polizei wurden drei Bewohner leicht verletzt. „Die Lage ist unter Kontrolle“, sagte "
           "ein Sprecher am Sonntagabend. Die Schadenshöhe wird auf über 500.000 Euro geschätzt; "
           "die Ermittlungen zur Brandursache dauern an.", ("cp1252",)),
    "de-latin1": ("Großbrand in Düsseldorf: Feuerwehr rettet 14 Menschen aus einem Wohnhaus. Nach Angaben "
                  "der Polizei wurden drei Bewohner leicht verletzt. Die Schadenshöhe wird auf über "
                  "500.000 Euro geschätzt; die Ermittlungen zur Brandursache dauern an.", WESTERN),
    "es": ("El Gobierno anunció el miércoles nuevas medidas contra la sequía en Andalucía. «La "
           "situación es crítica», afirmó la ministra, que visitó los embalses de Córdoba y Jaén. "
           "¿Cuánto durará? Los expertos no se atreven a predecirlo. Según la Agencia Estatal de "
           "Meteorología, el año pasado fue el más cálido desde que hay registros.", WESTERN),
    "pt": ("O incêndio que deflagrou na madrugada de terça-feira em Monchique já consumiu mais de "
           "três mil hectares. A Proteção Civil mobilizou 450 operacionais e dois aviões. \"Não há "
           "habitações em risco\", garantiu o comandante, acrescentando que a situação é acompanhada "
           "com atenção. As populações das aldeias vizinhas foram aconselhadas a não sair de casa.",
           WESTERN),
    "it": ("Maltempo in Emilia-Romagna: la città di Forlì è ancora sott’acqua. Il presidente della "
           "Regione ha chiesto lo stato di emergenza; più di diecimila persone sono state evacuate. "
           "«È una tragedia», ha detto il sindaco. Perché non è scattata l’allerta prima? La procura "
           "ha aperto un’indagine.", ("cp1252",)),
    "it-latin1": ("Maltempo in Emilia-Romagna: la città di Forlì è ancora sott'acqua. Più di diecimila "
                  "persone sono state evacuate. «È una tragedia», ha detto il sindaco. Perché non è "
                  "scattata l'allerta prima?", WESTERN),
    "nl": ("De politie heeft in Rotterdam drie verdachten aangehouden na een explosie bij een woning "
           "aan de Coolsingel. Er raakte niemand gewond, maar de schade is aanzienlijk. Volgens de "
           "burgemeester is het „onacceptabel” dat bewoners opnieuw slachtoffer worden. De coördinatie "
           "ligt bij het Openbaar Ministerie, dat een reëel gevaar voor herhaling ziet.", ("cp1252",)),
    "sv": ("Polisen i Göteborg utreder ett misstänkt mord efter att en man i 30-årsåldern hittats död "
           "i en lägenhet på Hisingen på söndagsmorgonen. Enligt grannar hördes höga röster under "
           "natten. – Vi har inga gripna i nuläget, säger polisens presstalesperson. Området är "
           "avspärrat och tekniker är på plats.", ("cp1252",)),
    "sv-iso": ("Polisen i Göteborg utreder ett misstänkt mord efter att en man i 30-årsåldern hittats död "
               "i en lägenhet på Hisingen. Enligt grannar hördes höga röster under natten. Området är "
               "avspärrat och tekniker är på plats.", WESTERN),
    "en": ("The mayor’s “clean streets” plan — backed by a €2.5m grant — was approved on Tuesday… "
           "Critics called it naïve; the café owners near the old bridge said they weren’t consulted. "
           "Residents paid £40 each – a fee that rose 12% in a year.", ("cp1252",)),
    "en-naive": ("Critics called the plan naïve, and the café owners said so at the meeting.", WESTERN),
    "pl": ("W Gdańsku doszło w środę do pożaru hali magazynowej przy ulicy Łużyckiej. Według straży "
           "pożarnej nikt nie został ranny, jednak straty mogą sięgać kilku milionów złotych. Źródło "
           "ognia wciąż nie jest znane – śledztwo prowadzi prokuratura. Mieszkańcy okolicznych bloków "
           "skarżyli się na gęsty dym.", ("cp1250",)),
    "pl-iso": ("W Gdańsku doszło w środę do pożaru hali magazynowej przy ulicy Łużyckiej. Według straży "
               "pożarnej nikt nie został ranny, jednak straty mogą sięgać kilku milionów złotych. Źródło "
               "ognia wciąż nie jest znane, śledztwo prowadzi prokuratura.", CENTRAL),
    "cs": ("Policie v Brně zadržela muže podezřelého z loupežného přepadení směnárny na náměstí "
           "Svobody. Pachatel podle svědků vyhrožoval nožem a odnesl přes sto tisíc korun. Škoda na "
           "zařízení je odhadována na desítky tisíc. Případ vyšetřuje kriminální služba, která žádá "
           "veřejnost o pomoc.", CENTRAL),
    "hu": ("A budapesti rendőrség őrizetbe vett két férfit, akiket azzal gyanúsítanak, hogy betörtek "
           "egy ékszerüzletbe a belvárosban. A kár meghaladja a tízmillió forintot. Az ügyben a "
           "nyomozás folytatódik, a szemtanúk jelentkezését várják.", CENTRAL),
    "ru": ("В Москве в результате пожара в жилом доме на улице Профсоюзной пострадали три человека. "
           "По данным МЧС, возгорание произошло ночью на седьмом этаже. Жильцов эвакуировали, "
           "причины пожара устанавливаются. «Огонь распространялся очень быстро», — рассказал один "
           "из соседей.", ("cp1251",)),
    "ru-koi8": ("В Москве в результате пожара в жилом доме на улице Профсоюзной пострадали три человека. "
                "По данным МЧС, возгорание произошло ночью на седьмом этаже. Жильцов эвакуировали, "
                "причины пожара устанавливаются.", ("cp1251", "koi8-r")),
    "uk": ("У Харкові внаслідок обстрілу пошкоджено житловий будинок і школу. За словами мера, "
           "загинули двоє людей, ще дев'ятеро отримали поранення. Рятувальники працюють на місці "
           "події, її межі оточено.", ("cp1251", "koi8-u")),
    "el": ("Σεισμός 5,2 Ρίχτερ σημειώθηκε τα ξημερώματα της Τρίτης στην Κρήτη. Σύμφωνα με το "
           "Γεωδυναμικό Ινστιτούτο, το επίκεντρο εντοπίστηκε 20 χιλιόμετρα νότια του Ηρακλείου. "
           "Δεν έχουν αναφερθεί ζημιές ή τραυματισμοί. Άμεσα ενεργοποιήθηκαν τα συνεργεία της "
           "Πολιτικής Προστασίας.", ("cp1253", "iso-8859-7")),
    "tr": ("İstanbul’da şiddetli yağış nedeniyle birçok ilçede su baskınları yaşandı. Belediye "
           "ekipleri gece boyunca çalıştı; bazı yollar trafiğe kapatıldı. Meteoroloji, yağışların "
           "perşembe gününe kadar süreceğini açıkladı.", ("cp1254",)),
}
UNICODE_ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be")


def corpus_cases():
    """(sample name, encoding) for every sample in UTF-8/16 and in its legacy encodings."""
    return [(name, encoding) for name, (_, legacy) in SAMPLES.items() for encoding in UNICODE_ENCODINGS + legacy]
# Encodings of other scripts are left to charset_normalizer's guess, which must still win.
OTHER_SCRIPTS = {
    "ja": ("東京都内で昨夜、大規模な火災が発生し、住民ら約三十人が避難した。警視庁によると、けが人はいないという。"
           "出火原因を調べている。", ("shift_jis", "euc-jp")),
    "zh": ("北京时间周二凌晨，四川省发生里氏五点二级地震。据当地政府消息，目前尚无人员伤亡报告，救援队伍已赶赴现场。",
           ("gb18030", "gbk")),
    "zh-tw": ("臺北市政府今天宣布，因颱風來襲，明天停止上班上課。氣象局表示，颱風中心將於今晚登陸。", ("big5",)),
    "ko": ("서울 도심에서 어젯밤 대형 화재가 발생해 주민 서른여 명이 대피했다. 경찰은 화재 원인을 조사하고 있다.",
           ("euc-kr",)),
    "ar": ("أعلنت وزارة الداخلية اليوم عن اعتقال ثلاثة أشخاص يشتبه في تورطهم في الهجوم الذي وقع أمس في وسط المدينة.",
           ("cp1256", "iso-8859-6")),
    "he": ("משטרת ישראל עצרה הלילה שלושה חשודים במעורבות בפיגוע שהתרחש אתמול במרכז העיר.", ("cp1255", "iso-8859-8")),
}


def rows(ws):
    return read_articles(ws).to_pylist()


def write_jsonl(path, *records):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")


def set_config(ws, key, value):
    config = ws.root / "toolkit.toml"
    text, replaced = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", config.read_text())
    assert replaced == 1
    config.write_text(text)


BODY = " ".join(["The council met on Tuesday to discuss the flood defences of the lower town."] * 4)

# ------------------------------------------------------------------------------ decoding


@pytest.mark.parametrize(("name", "encoding"), corpus_cases())
def test_news_corpus_decodes_exactly_and_surely(name, encoding):
    text = SAMPLES[name][0]
    decoded = clean.decode_bytes(text.encode(encoding))
    assert decoded.text == text
    assert not any("unsure" in w for w in decoded.warnings), decoded.warnings
    assert clean.normalise_text(decoded.text) == (text, [])  # and ftfy leaves it as it is


@pytest.mark.parametrize(("name", "encoding"),
                         [(n, e) for n, (_, encodings) in OTHER_SCRIPTS.items() for e in encodings])
def test_other_scripts_still_decode_through_detection(name, encoding):
    text = OTHER_SCRIPTS[name][0]
    assert clean.decode_bytes(text.encode(encoding)).text == text


def test_issue_example_latin1_article_ingests_as_written(workspace):
    title = "Attaque à Besançon : un blessé grave, le suspect arrêté après une course-poursuite"
    body = SAMPLES["fr"][0] + "\n\n" + SAMPLES["en-naive"][0]
    (workspace.raw_dir / "besancon.txt").write_bytes(f"14 mars 2024\n\n{title}\n\n{body}\n".encode("latin-1"))
    report = ingest(workspace)
    assert not report.rejected
    (row,) = rows(workspace)
    assert row["title"] == title
    assert row["text"] == body.replace("\n\n", "\n\n")
    assert "naïve" in row["text"] and "naďve" not in row["text"]
    assert "not UTF-8; decoded as cp1252" in row["warnings"]
    assert not any("unsure" in w for w in row["warnings"])


def test_an_ambiguous_reading_is_a_warning():
    # One accented letter in three words: è in cp1252, č in cp1250; nothing tells which.
    decoded = clean.decode_bytes(b"The K\xe8 river")
    assert decoded.text == "The Kè river"
    assert any(w.startswith("unsure of the encoding: cp1252 and cp1250 read equally well") for w in decoded.warnings)


def test_a_reading_with_implausible_characters_is_a_warning():
    decoded = clean.decode_bytes((SAMPLES["fr"][0] + " ¤ ¦").encode("cp1252"))
    assert any("of the non-ASCII characters look wrong" in w for w in decoded.warnings)


def test_random_high_bytes_are_still_undecodable():
    noise = random.Random(12).randbytes(600)
    with pytest.raises(clean.UndecodableError):
        clean.decode_bytes(b"Breaking news: " + bytes(b | 0x80 for b in noise))


def test_declared_charset_that_does_not_fit_is_overridden_with_a_warning():
    page = "<html><head><meta charset=\"windows-1250\"></head><body>Attaque à Besançon après la fête</body></html>"
    decoded = clean.decode_bytes(page.encode("cp1252"))
    assert "Attaque à Besançon après la fête" in decoded.text
    assert decoded.warnings == ["not UTF-8; decoded as cp1252: the declared charset windows-1250 does not fit the text"]


def test_declared_latin1_is_read_as_cp1252_like_browsers_do():
    page = "<html><head><meta charset=\"iso-8859-1\"></head><body>L’homme du café, naïf</body></html>"
    assert "L’homme du café, naïf" in clean.decode_bytes(page.encode("cp1252")).text


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_is_decoded_not_rejected_as_binary(workspace, encoding):
    text = f"Flood defences fail\n\n{SAMPLES['de'][0]}\n\n{BODY}\n"
    (workspace.raw_dir / "utf16.txt").write_bytes(text.encode(encoding))
    report = ingest(workspace)
    assert not report.rejected
    (row,) = rows(workspace)
    assert row["title"] == "Flood defences fail" and row["text"].startswith("Großbrand in Düsseldorf")
    assert f"no byte-order mark; decoded as {encoding.upper()}" in row["warnings"]


def test_binary_with_nuls_everywhere_is_still_binary():
    with pytest.raises(clean.BinaryContentError):
        clean.decode_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8)


# ------------------------------------------------------------------------------ dates


def test_overflowing_numeric_and_relative_dates_are_not_the_run_date(workspace):
    write_jsonl(workspace.raw_dir / "feed.jsonl",
                {"text": BODY + " One.", "date": "1e400"},
                {"text": BODY + " Two.", "date": "3 days ago"},
                {"text": BODY + " Three.", "date": "il y a 2 heures"},
                {"text": BODY + " Four.", "date": "1700000000"},
                {"text": BODY + " Five.", "date": "2024-03-14"},
                f'{{"text": "{BODY} Six.", "date": 1e400}}')
    report = ingest(workspace)
    assert report.new_articles == 6
    found = {r["source_file"].rsplit("#", 1)[1]: r for r in rows(workspace)}
    assert [found[f"L{i}"]["published"] for i in range(1, 7)] == [None, None, None, None, dt.date(2024, 3, 14), None]
    assert "unparseable date 'inf': not a string" in found["L6"]["warnings"]
    assert "unparseable date '1e400'" in found["L1"]["warnings"]
    assert "relative date '3 days ago' not used: there is no date of the article's own to count from" \
        in found["L2"]["warnings"]
    assert any(w.startswith("relative date 'il y a 2 heures'") for w in found["L3"]["warnings"])
    assert "unparseable date '1700000000'" in found["L4"]["warnings"]


def test_relative_date_line_in_a_text_file_is_not_resolved(workspace):
    (workspace.raw_dir / "relative.txt").write_text(f"3 days ago\n\nFlood defences fail\n\n{BODY}\n")
    ingest(workspace)
    (row,) = rows(workspace)
    assert row["published"] is None and row["title"] == "Flood defences fail"
    assert "3 days ago" not in row["text"]
    assert any(w.startswith("relative date '3 days ago' not used") for w in row["warnings"])


@pytest.mark.parametrize("value", ["1e400", "3 days ago", "yesterday 5pm", "1700000000", "in 2 weeks"])
def test_parse_date_takes_only_absolute_dates(value):
    assert clean.parse_date(value) is None


# ------------------------------------------------------------------------------ crashes


def test_lone_surrogates_in_jsonl_fields_are_replaced_not_a_crash(workspace):
    # json.dumps writes "\ud800" as an escape; json.loads gives it back as a lone surrogate.
    write_jsonl(workspace.raw_dir / "feed.jsonl",
                {"text": BODY + " \ud800", "title": "Floods \udc00", "source": "Wire \udfff",
                 "url": "https://example.org/\ud800"},
                {"html": f"<html><body><article><p>{BODY} Two \ud83d</p></article></body></html>", "source": "X\ud800"},
                {"text": BODY + " Fine."})
    report = ingest(workspace)
    assert report.new_articles == 3 and not report.rejected
    found = {r["source_file"]: r for r in rows(workspace)}
    first = found["raw/feed.jsonl#L1"]
    assert first["source_name"] == "Wire \ufffd" and first["title"] == "Floods \ufffd"
    assert first["text"].endswith("\ufffd")
    assert "replaced 1 invalid character(s) (lone surrogates) in `source` with U+FFFD" in first["warnings"]
    assert found["raw/feed.jsonl#L2"]["source_name"] == "X\ufffd"
    json.loads(workspace.ingest_report_path.read_text(encoding="utf-8"))


def test_file_name_that_is_not_utf8_is_recorded_escaped(workspace):
    raw = os.fsencode(workspace.raw_dir)
    with open(raw + b"/caf\xe9-\xff.txt", "wb") as fh:
        fh.write(f"Flood defences fail\n\n{BODY}\n".encode())
    report = ingest(workspace)
    assert report.new_articles == 1
    (row,) = rows(workspace)
    assert row["source_file"] == "raw/caf\\xe9-\\xff.txt"
    assert "the file name is not valid UTF-8; recorded as 'raw/caf\\\\xe9-\\\\xff.txt'" in row["warnings"]
    assert json.loads(workspace.ingest_report_path.read_text())["warnings"][0]["source"] == "raw/caf\\xe9-\\xff.txt"


def test_deeply_nested_jsonl_line_is_rejected_and_the_batch_goes_on(workspace):
    depth = 100_000
    write_jsonl(workspace.raw_dir / "feed.jsonl",
                "[" * depth + "]" * depth,
                '{"text": ' + "[" * depth + "]" * depth + "}",
                {"text": BODY})
    report = ingest(workspace)
    assert [(r.source, r.reason) for r in report.rejected] == [
        ("raw/feed.jsonl#L1", "invalid-json"), ("raw/feed.jsonl#L2", "invalid-json")]
    assert "nested too deeply" in report.rejected[0].message
    assert report.new_articles == 1


def test_gzip_bomb_line_is_rejected_without_holding_it(workspace):
    set_config(workspace, "max_file_mb", 1)
    line_bytes = 256 * 2**20  # 256 MiB of one line, about 250 KB gzipped
    with gzip.open(workspace.raw_dir / "bomb.jsonl.gz", "wb", compresslevel=1) as fh:
        fh.write(json.dumps({"text": BODY}).encode() + b"\n")
        fh.write(b'{"text": "')
        block = b"a" * 2**20
        for _ in range(line_bytes // len(block)):
            fh.write(block)
        fh.write(b'"}\n')
        fh.write(json.dumps({"text": BODY + " After."}).encode() + b"\n")
    assert (workspace.raw_dir / "bomb.jsonl.gz").stat().st_size < 2e6
    tracemalloc.start()
    try:
        report = ingest(workspace)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20, f"peak {peak / 2**20:.0f} MiB"
    assert [(r.source, r.reason) for r in report.rejected] == [("raw/bomb.jsonl.gz#L2", "too-large")]
    assert "268.4 MB" in report.rejected[0].message and "max_file_mb" in report.rejected[0].message
    assert report.new_articles == 2  # the lines before and after are kept


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_max_file_mb_is_a_config_error_naming_the_key(workspace, value):
    set_config(workspace, "max_file_mb", value)
    add_raw(workspace, SEED.name)
    with pytest.raises(ConfigError, match=r"\[ingest\] max_file_mb must be a finite number"):
        ingest(workspace)
    assert not workspace.articles_path.exists()


def _table_files(ws) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(ws.articles_path.iterdir())}


def test_damaged_articles_table_stops_ingest_and_nothing_is_overwritten(workspace):
    add_raw(workspace, SEED.name)
    ingest(workspace)
    part = workspace.articles_path / "part-000000.parquet"
    whole = part.read_bytes()
    add_raw(workspace, "near-a.txt")
    for damaged in (whole[: len(whole) // 2], b"not parquet at all", whole[:-100] + bytes(100)):
        part.write_bytes(damaged)
        before, report_before = _table_files(workspace), workspace.ingest_report_path.read_bytes()
        with pytest.raises(InputError, match=r"annotations/articles/part-000000.parquet is not a readable Parquet "
                                             "file") as exc:
            ingest(workspace)
        assert exc.value.hint.startswith("nothing was changed; restore annotations/articles/")
        assert "move it away and run `toolkit ingest` to rebuild it" in exc.value.hint
        assert _table_files(workspace) == before
        assert workspace.ingest_report_path.read_bytes() == report_before
        leftovers = [p.name for p in workspace.annotations_dir.rglob("*") if p.suffix == ".tmp" or "staging" in p.name]
        assert leftovers == []


def test_articles_parquet_of_another_shape_is_a_clear_error_for_every_reader(workspace):
    import pyarrow as pa
    import pyarrow.parquet as pq

    add_raw(workspace, SEED.name)
    ingest(workspace)
    pq.write_table(pa.table({"article_id": ["a"], "body": ["x"]}), workspace.articles_path / "part-000000.parquet")
    for read in (read_articles, article_ids, article_texts, ingest):
        with pytest.raises(InputError, match=r"annotations/articles/part-000000.parquet has no column 'title' of "
                                             "type string: it is not the articles table"):
            read(workspace)


@pytest.mark.parametrize("manifest", [b"{not json", b'{"format": "something else", "parts": []}',
                                      b'{"format": "toolkit-articles", "format_version": 2, "parts": '
                                      b'[{"file": "../../secret.parquet", "rows": 1, "sha256": "x"}]}'])
def test_a_damaged_manifest_is_a_clear_error_and_nothing_is_written(workspace, manifest):
    add_raw(workspace, SEED.name)
    ingest(workspace)
    (workspace.articles_path / "_manifest.json").write_bytes(manifest)
    before = _table_files(workspace)
    add_raw(workspace, "near-a.txt")
    for read in (read_articles, ingest):
        with pytest.raises(InputError, match=r"annotations/articles/_manifest.json is not a readable articles "
                                             "manifest") as exc:
            read(workspace)
        assert exc.value.hint.startswith("nothing was changed; restore annotations/articles/")
    assert _table_files(workspace) == before


# ------------------------------------------------------------------------------ security


@pytest.fixture
def outside(tmp_path):
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "passwd.txt").write_text(f"Secret headline\n\nroot:x:0:0 {BODY}\n")
    return folder


def test_symlinks_leading_outside_the_input_folder_are_not_read(workspace, outside):
    (workspace.raw_dir / "x.txt").symlink_to(outside / "passwd.txt")
    (workspace.raw_dir / "elsewhere").symlink_to(outside, target_is_directory=True)
    (workspace.raw_dir / "loop").symlink_to(workspace.raw_dir, target_is_directory=True)
    add_raw(workspace, "near-a.txt")
    (workspace.raw_dir / "inside.txt").symlink_to(workspace.raw_dir / "near-a.txt")
    report = ingest(workspace)
    assert {(r.source, r.reason) for r in report.rejected} == {
        ("raw/x.txt", "symlink-outside"), ("raw/elsewhere", "symlink-outside")}
    assert "--follow-symlinks" in report.rejected[0].message
    assert not any("root:x" in r["text"] for r in rows(workspace))
    assert report.new_articles == 1 and report.exact_duplicates == 1  # the link inside raw/ is read


def test_symlinks_are_followed_when_asked(workspace, outside):
    (workspace.raw_dir / "x.txt").symlink_to(outside / "passwd.txt")
    (workspace.raw_dir / "elsewhere").symlink_to(outside, target_is_directory=True)
    report = ingest(workspace, follow_symlinks=True)
    assert not report.rejected and report.new_articles == 1 and report.exact_duplicates == 1


def test_symlink_outside_is_a_documented_rejection_reason():
    assert "symlink-outside" in REJECTION_REASONS


def test_only_http_urls_are_published(workspace):
    write_jsonl(workspace.raw_dir / "feed.jsonl",
                {"text": BODY + " 1", "url": "javascript:alert(document.cookie)"},
                {"text": BODY + " 2", "url": "file:///etc/passwd"},
                {"text": BODY + " 3", "url": "data:text/html,<script>x</script>"},
                {"text": BODY + " 4", "url": "https://wire.example.org/a"},
                {"text": BODY + " 5", "url": "HTTP://wire.example.org/b"},
                {"text": BODY + " 6", "url": "http://"},
                {"html": "<html><head><link rel='canonical' href='javascript:alert(1)'></head>"
                         f"<body><article><p>{BODY} 7</p></article></body></html>"})
    ingest(workspace)
    found = {r["source_file"].rsplit("#", 1)[1]: r for r in rows(workspace)}
    urls = [found[f"L{i}"]["source_url"] for i in range(1, 8)]
    assert urls == [None, None, None, "https://wire.example.org/a", "HTTP://wire.example.org/b", None, None]
    assert "dropped the URL 'javascript:alert(document.cookie)': only http and https URLs are kept" \
        in found["L1"]["warnings"]
    assert any(w.startswith("dropped the URL 'file:///etc/passwd'") for w in found["L2"]["warnings"])
    assert all(s["url"] is None or s["url"].lower().startswith("http") for r in rows(workspace) for s in r["sources"])


# ------------------------------------------------------------------------------ configuration


def _numeric_fields():
    config = Config()
    for section in dataclasses.fields(config):
        values = getattr(config, section.name)
        for key in dataclasses.fields(values):
            value = getattr(values, key.name)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                yield section.name, key.name, value


def test_every_numeric_key_has_bounds_holding_its_default():
    for section, key, default in _numeric_fields():
        assert (section, key) in BOUNDS, f"[{section}] {key} has no bounds"
        assert BOUNDS[(section, key)].allows(default)


@pytest.mark.parametrize(("section", "key", "value", "message"), [
    ("ingest", "min_words", -5, r"\[ingest\] min_words must be 0-100000, not -5"),
    ("ingest", "num_perm", 100_000_000, r"\[ingest\] num_perm must be 16-1024, not 100000000"),
    ("labelstudio", "retries", 10**9, r"\[labelstudio\] retries must be 0-10, not 1000000000"),
    ("gold", "bootstrap", 10**13, r"\[gold\] bootstrap must be 0-100000, not 10000000000000"),
    ("ingest", "max_file_mb", 0, r"\[ingest\] max_file_mb must be in \(0, 10000\], not 0.0"),
    ("labelstudio", "port", 70_000, r"\[labelstudio\] port must be 1-65535"),
    ("release", "test", math.nan, r"\[release\] test must be a finite number, not nan"),
    ("release", "train", math.inf, r"\[release\] train must be a finite number, not inf"),
    ("labelstudio", "timeout", -math.inf, r"\[labelstudio\] timeout must be a finite number"),
    ("ingest", "near_duplicate_threshold", math.nan, r"near_duplicate_threshold must be a finite number"),
])
def test_out_of_range_and_non_finite_numbers_are_config_errors(section, key, value, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict({section: {key: value}})


@pytest.mark.parametrize(("section", "key", "default"), list(_numeric_fields()))
def test_non_finite_values_are_refused_for_every_numeric_key(section, key, default):
    for value in (math.nan, math.inf):
        with pytest.raises(ConfigError, match=rf"\[{section}\] {key} must be"):
            config_from_dict({section: {key: value}})


# ------------------------------------------------------------------------------ leftovers and locking


def test_leftovers_of_a_killed_ingest_are_removed_and_nothing_else(workspace):
    add_raw(workspace, SEED.name)
    ingest(workspace)
    cache = workspace.cache_dir
    table = workspace.articles_path
    ours = [cache / "ingest-staging-4242.parquet", table / "._manifest.json.k1ll.tmp",
            table / "part-000001.parquet", table / "_clusters-000007.parquet", table / "_sources-000002.parquet",
            workspace.annotations_dir / ".ingest-report.json.x9z.tmp"]
    others = [cache / "other.tmp", workspace.annotations_dir / ".gold.parquet.abc.tmp",
              workspace.annotations_dir / "ingest-staging-1.parquet", table / "notes.txt", table / "part-1.parquet"]
    for path in ours + others:
        path.write_bytes(b"half-written")
    report = ingest(workspace)
    assert sorted(report.leftovers_removed) == sorted(workspace.relative(p) for p in ours)
    assert not any(p.exists() for p in ours) and all(p.exists() for p in others)
    assert json.loads(workspace.ingest_report_path.read_text())["leftovers_removed"] == report.leftovers_removed


def test_a_second_ingest_at_the_same_time_is_refused(workspace):
    add_raw(workspace, SEED.name)
    workspace.cache_dir.mkdir(parents=True, exist_ok=True)
    with open(workspace.cache_dir / "ingest.lock", "a+") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(OutputError, match="another `toolkit ingest` is writing annotations/articles/"):
            ingest(workspace)
    assert not workspace.articles_path.exists()
    assert ingest(workspace).new_articles == 1


def test_a_part_the_manifest_lists_but_is_gone_is_a_clear_error_and_nothing_is_written(workspace):
    from toolkit.errors import InputNotFound

    add_raw(workspace, SEED.name)
    ingest(workspace)
    (workspace.articles_path / "part-000000.parquet").unlink()
    before = _table_files(workspace)
    add_raw(workspace, "near-a.txt")
    for read in (read_articles, ingest):
        with pytest.raises(InputNotFound, match=r"annotations/articles/part-000000.parquet does not exist") as exc:
            read(workspace)
        assert exc.value.hint.startswith("nothing was changed; restore annotations/articles/")
    assert _table_files(workspace) == before
