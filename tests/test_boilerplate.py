"""Generic boilerplate removal for scraped plain text: a page's visible text cleaned to its article."""

from __future__ import annotations

import datetime as dt

from toolkit.ingest import boilerplate, clean

HEADLINE = "Floods cut off three villages in the river valley"
BODY = [
    "Rescue teams reached three villages in the upper river valley on Tuesday, after two days of heavy "
    "rain had washed away the only road that links them to the town of Marden, the regional "
    "authorities said in a statement.",
    "About four hundred people were cut off for most of the weekend. Helicopters brought in water and "
    "medicine on Monday, and the army has started to build a temporary bridge that should be open "
    "by the end of the week.",
    "\u201cThe water came up faster than anyone here can remember,\u201d said the mayor of one of the "
    "villages, who asked the government for help to rebuild the road before the winter comes.",
]
# What a scraper saves from a news page: menus, a cookie banner, the byline and share bar,
# the article, then related links and the footer.
PAGE = "\n".join([
    "Skip to main content", "Home", "World", "Politics", "Business", "Sport", "Sign in",
    "We use cookies to improve your experience. By continuing to browse the site you accept our cookie policy.",
    "Accept",
    "",
    HEADLINE,
    "By Anna Example",
    "12 March 2024",
    "Share on Facebook", "Share", "",
    BODY[0], "", BODY[1], "", BODY[2], "",
    "Read more", "Related stories", "Drought hits farmers in the south", "Power cuts expected this weekend",
    "Bridge closed after inspection", "",
    "\u00a9 2024 Example News. All rights reserved.",
    "Terms of use | Privacy policy | Contact us | About us",
])


def test_a_page_is_cleaned_to_its_article():
    parsed = clean.parse_plain_article(PAGE)
    assert parsed.title == HEADLINE
    assert parsed.published == dt.date(2024, 3, 12)
    assert parsed.body == "\n\n".join(BODY)


def test_the_article_is_found_without_blank_lines_between_blocks():
    parsed = clean.parse_plain_article(PAGE.replace("\n\n", "\n"))
    assert parsed.title == HEADLINE
    assert parsed.body == "\n".join(BODY)  # one input paragraph: its lines stay together


def test_comments_under_the_article_are_not_kept():
    comments = ["Comments (2)", "jake_r", "2 hours ago",
                "I drove through the valley last year and the road was already in a terrible state, so "
                "nobody who lives there should be surprised that it went in the first heavy rain of the year.",
                "Reply"]
    parsed = clean.parse_plain_article(f"{HEADLINE}\n\n" + "\n\n".join(BODY + comments))
    assert parsed.body == "\n\n".join(BODY)


def test_a_short_one_paragraph_article_is_not_emptied():
    text = f"{HEADLINE}\n\nShare\n\n{BODY[0]}\n"
    parsed = clean.parse_plain_article(text)
    assert parsed.title == HEADLINE
    assert parsed.body == BODY[0]


def test_a_list_without_prose_is_left_to_the_line_list():
    text = "Prices today\n\nBread 2.10\n\nMilk 1.05\n\nEggs 3.40\n\nButter 2.75\n"
    assert clean.parse_plain_article(text).body == clean.parse_plain_article(text, generic=False).body


GERMAN_BODY = [
    "Nach zwei Tagen mit starkem Regen haben die Rettungskräfte am Dienstag die drei Dörfer im oberen "
    "Flusstal erreicht, deren einzige Straße von dem Wasser weggespült worden war, wie die Behörden der "
    "Region am Abend in einer Mitteilung erklärten.",
    "Etwa vierhundert Menschen waren fast das ganze Wochenende von der Außenwelt abgeschnitten. Die "
    "Armee hat mit dem Bau einer Behelfsbrücke begonnen, die bis zum Ende der Woche fertig sein soll.",
]


def test_a_german_article_keeps_its_body():
    page = "\n".join(["Startseite", "Politik", "Wirtschaft", "Sport", "",
                      "Hochwasser schneidet drei Dörfer ab", "", GERMAN_BODY[0], "", GERMAN_BODY[1], "",
                      "Mehr zum Thema", "Dürre trifft Bauern im Süden", "Impressum | Datenschutz | Kontakt | AGB"])
    parsed = clean.parse_plain_article(page)
    assert parsed.title == "Hochwasser schneidet drei Dörfer ab"
    assert parsed.body == "\n\n".join(GERMAN_BODY)


def test_a_language_without_stopwords_is_left_unchanged():
    paragraphs = ["首页", "新闻", "北京时间十二日，三个村庄因连日暴雨与外界失去联系，救援队伍已经抵达现场。", "分享"]
    assert boilerplate.stopword_language("\n".join(paragraphs)) is None
    assert boilerplate.keep_main_block(paragraphs) == (paragraphs, 0)


def test_an_english_quotation_inside_a_french_article_is_kept():
    french = ("Les équipes de secours ont atteint mardi les trois villages de la vallée, après deux jours de "
              "pluie qui avaient emporté la seule route qui les relie à la ville, a indiqué la préfecture dans un "
              "communiqué publié dans la soirée.")
    english = "\u201cThe water came up faster than anyone here can remember,\u201d the mayor told the BBC in English."
    parsed = clean.parse_plain_article(f"Crues dans la vallée\n\n{french}\n\n{english}\n\nPartager")
    assert parsed.body == f"{french}\n\n{english}"


def test_lines_repeated_across_a_sources_articles():
    footer = "\u00a9 2024 Example News. All rights reserved."
    prompt = "Get our morning briefing in your inbox"
    quote = "\u201cWe will rebuild,\u201d the mayor said."
    texts = [f"Story {i}\nA sentence only story {i} has.\n{footer}" for i in range(10)]
    texts = [t + f"\n{prompt}" if i < 6 else t for i, t in enumerate(texts)]  # in 6 of 10
    texts[0] += f"\n{quote}"
    texts[1] += f"\n  {quote}  "  # the same line, other spacing: in 2 of 10
    assert boilerplate.repeated_lines(texts, min_share=0.5) == {footer, prompt}
    assert boilerplate.repeated_lines(texts, min_share=0.7) == {footer}
    assert boilerplate.repeated_lines(texts[:4]) == set()  # too few articles to tell furniture from a shared quote
