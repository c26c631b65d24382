"""Summarization of clinical notes, graded 1-5 by a deterministic key-fact rubric, plus ROUGE-L.

An item is a note (``text``: a brief hospital course or a patient-portal message), a reference
summary (``reference``, 2-4 sentences) and its key facts (``key_facts``: short plain strings, the
facts a good summary must keep; the reference states every one of them). The model writes a
summary; :func:`rubric_grade` grades it against the key facts, ROUGE-L compares it with the
reference. An optional LLM judge grades beside it (:mod:`sftdpo.judge`, config ``judge:``).

The rubric (:func:`rubric_grade`), exactly
------------------------------------------
*Words.* Text is lower-cased and lightly normalised: a fixed table (``PHRASES``) maps
abbreviations, brand names and set phrases to one spelling ("twice daily" = "b.i.d." = "BID",
"Lasix" = "furosemide", "f/u" = "follow-up", "RLL" = "right lower lobe", "leg" = "lower
extremity", "CHF exacerbation" = "acute decompensated heart failure", "no growth" =
"negative"); number words become digits ("two" = "2"), "x5" becomes "for 5", "n't" becomes
"not". Words are Porter-stemmed. Stopwords and reporting verbs ("was", "showed", "noted",
"given", "status post") are dropped; the rest, numbers and units included, are *content words*.

*Negation.* Cues are not content words; they negate the content words in their scope. Before
the term: "no", "not", "without", "denies", "never", "none", "negative for" (``PRE_NEGATIONS``);
scope: the next 5 content words. After the term: "negative", "ruled out", "resolved",
"absent", "normal", "unremarkable"; scope: the 4 content words before. A scope stops at
punctuation (``. ! ? ; , :`` and brackets), at a cue of the first kind, and at a word such as
"and", "but", "on", "with", "after", "started" (``SCOPE_ENDS``; going forward, only once a
content word is in scope). Not cues: a cue before "change", "only", "difficulty"; "net
negative", "gram negative". The negated word next to its cue is the cue's *head*.

*Windows.* A summary is cut into clauses at ``. ! ? ;`` and line breaks. A key fact's *clause*
is the clause holding most of its content words; its *window* is the clause, or two
consecutive clauses, holding most of them (ties: one clause before two, then the earliest).

*Numbers.* A number's unit is the unit word right after it (mg, units, %, days, weeks, L, ...);
its anchors are the up to 3 content words before it in its clause (else after it), units and
dose words (BID, daily, PO, started, increased ...) excluded: "furosemide 40 mg" -> unit mg,
anchor furosemide. A number *is given* in a window when the same value appears there with the
same unit, or without a unit on either side.

A fact is **contradicted** when its clause holds at least half of its content words and
  (a) the fact negates words and one of them appears in the clause, only un-negated ("no PE
      on CTA" -> "CTA showed PE"); or the fact negates nothing and some of its words appear in
      the clause only negated, one of them as a head or they make up at least half of its
      matched words ("iron studies pending" -> "iron studies not pending");
  (b) one of the fact's numbers is not given in the clause, while the clause gives another
      number (none of the fact's) with the same unit (or both none) and a shared anchor
      ("furosemide 40 mg BID" -> "furosemide 80 mg BID");
  (c) the fact names a side of an opposed pair (``AXES``) and the clause names another side
      of it but not the fact's: left / right / bilateral; increased / decreased; started,
      continued, resumed / stopped, held, discontinued; improved / worsened.

A fact is **covered** when it is not contradicted and its window holds at least 60% of its
content words and all of its critical words: every number (given, as above), every drug name
(``DRUGS``) and its laterality (left / right / bilateral). Otherwise it is **missing**.

*Grade.* From coverage f = covered / total facts: f = 1 -> 5, f >= 0.75 -> 4, f >= 0.5 -> 3,
f >= 0.25 -> 2, else 1. Each contradicted fact costs one grade; an over-long summary (more than
``max_words`` words, or more words than the note when the note is given) costs one; the grade
never goes below 1. No summary (None, empty, no letters) is grade 1 with nothing covered.

``SummaryTask.score`` uses ``max_words`` = the larger of ``SummaryTask.max_words`` (80) and 1.5
times the reference's words, capped at the note's words (or the reference's, where the
reference is the longer: :meth:`SummaryTask.word_limit`).

*Without key facts.* A dataset that has no key facts (no ``key_facts`` column) is graded
against its references' clauses (:func:`reference_facts`): every clause of the reference is a
fact, so grade 5 means the summary restates every clause of the reference, and a one-clause
reference ("Stable changes of COPD.") grades all or nothing. The table says which grading a
task used.

Parsing: the completion, stripped, without a leading "Summary:" label, whitespace collapsed. A
trailing fragment without end punctuation that reads as cut mid-sentence by ``max_new_tokens``
(it ends in a digit, a stopword or a joining mark: "Discharged on furosemide 4") is dropped
when a complete sentence precedes it; other unpunctuated endings are kept. None when nothing
with a letter is left.

Preference pairs: :func:`drop_key_facts` (the reference without the sentences carrying a key
fact) and :func:`contradict_fact` (the reference with one key fact contradicted), each checked
to grade below the reference; :func:`degraded_summary` picks one.

The built-in data: :func:`generate_notes` (see its docstring and ``SCENARIOS``).
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

from sftdpo.tasks.base import Task

# ----------------------------------------------------------------------------------------------
# Normalisation
# ----------------------------------------------------------------------------------------------

# (regex on lower-cased text, replacement), applied in order. Multi-word phrases first.
PHRASES: tuple[tuple[str, str], ...] = (
    # dotted abbreviations and slashes
    (r"\bb\.i\.d\.?", " bid "), (r"\bt\.i\.d\.?", " tid "), (r"\bq\.i\.d\.?", " qid "),
    (r"\bq\.d\.?", " daily "), (r"\bp\.o\.?", " po "), (r"\bq\.h\.s\.?", " qhs "),
    (r"\bp\.r\.n\.?", " prn "), (r"\bs/p\b", " status post "), (r"\bw/o\b", " without "),
    (r"\bw/", " with "), (r"\bc/o\b", " complains of "), (r"\bh/o\b", " history of "),
    (r"\bf/u\b", " followup "), (r"\bb/l\b", " bilateral "), (r"\bu/s\b", " ultrasound "),
    (r"\by/o\b", " year old "), (r"\bd/c'?d\b", " discontinued "), (r"\bd/c\b", " discharge "),
    (r"\bcha2ds2-?vasc\b", " chadsvasc "), (r"\bhb?a1c\b", " a1c "),
    # dosing
    (r"\b(?:twice|2 times|two times) (?:a|per) day\b|\btwice daily\b|\btwo times daily\b",
     " bid "),
    (r"\b(?:three|3) times (?:a day|daily|per day)\b", " tid "),
    (r"\b(?:four|4) times (?:a day|daily|per day)\b", " qid "),
    (r"\bonce (?:a|per) day\b|\bonce daily\b|\bevery day\b|\bqd\b|\bper day\b", " daily "),
    (r"\bat bedtime\b|\bnightly\b|\bevery night\b|\bat night\b", " qhs "),
    (r"\bby mouth\b|\borally\b|\boral\b", " po "), (r"\bintravenous(?:ly)?\b", " iv "),
    (r"\bas needed\b", " prn "), (r"\bsubcutaneous(?:ly)?\b|\bsubq\b|\bsq\b", " sc "),
    (r"\bx ?(\d)", r" for \1"),
    # units
    (r"\bmilligrams?\b", " mg "), (r"\bmicrograms?\b|µg", " mcg "), (r"\bpercent\b", " % "),
    (r"\bpounds?\b|\blbs\b", " lb "), (r"\bkilograms?\b|\bkgs\b", " kg "),
    (r"\bliters?\b|\blitres?\b", " l "), (r"\bwks?\b", " week "), (r"\bmos\b", " month "),
    (r"\bmins?\b", " minute "), (r"\byrs?\b", " year "),
    (r"(\d) ?hrs?\b", r"\1 hour "), (r"(\d) ?h\b", r"\1 hour "), (r"(\d) ?d\b", r"\1 day "),
    (r"(\d) ?u\b", r"\1 unit "),
    # follow-up, status post
    (r"\bfollow(?:ed|ing)?[- ]?ups?\b|\bfollow(?:ed|ing)? up\b|\bfollow\b", " followup "),
    (r"\bstatus post\b", " statuspost "),
    # anatomy and laterality
    (r"\blle\b", " left lower extremity "), (r"\brle\b", " right lower extremity "),
    (r"\blue\b", " left upper extremity "), (r"\brue\b", " right upper extremity "),
    (r"\blower extremit(?:y|ies)\b|\blegs?\b|\ble\b", " lowerext "),
    (r"\bupper extremit(?:y|ies)\b|\barms?\b|\bue\b", " upperext "),
    (r"\brll\b", " right lower lobe "), (r"\blll\b", " left lower lobe "),
    (r"\brml\b", " right middle lobe "), (r"\brul\b", " right upper lobe "),
    (r"\blul\b", " left upper lobe "), (r"\bbilat\b|\bbilaterally\b", " bilateral "),
    (r"\blt\b", " left "), (r"\brt\b", " right "),
    # conditions and tests
    (r"\bheart failure with reduced ejection fraction\b", " hfref "),
    (r"\bcongestive heart failure\b|\bchf\b|\bhf\b", " heart failure "),
    (r"\bacute (?:on chronic )?(?:systolic |diastolic )?(?:decompensated )?heart failure\b"
     r"|\bdecompensated heart failure\b|\badhf\b|\bexacerbation of heart failure\b",
     " heart failure exacerbation "),
    (r"\baecopd\b|\bexacerbation of copd\b", " copd exacerbation "),
    (r"\bejection fraction\b", " ef "), (r"\batrial fibrillation\b|\ba-?fib\b", " afib "),
    (r"\bpulmonary embol(?:ism|i|us)\b", " pe "), (r"\bdeep ve(?:in|nous) thrombosis\b", " dvt "),
    (r"\burinary tract infection\b", " uti "), (r"\bacute kidney injury\b", " aki "),
    (r"\bchronic kidney disease\b", " ckd "), (r"\bpna\b", " pneumonia "),
    (r"\bshortness of breath\b|\bsob\b|\bdyspneic\b", " dyspnea "),
    (r"\bchest x-?ray\b|\bcxr\b", " cxr "), (r"\bx-ray\b", " xray "),
    (r"\bct angiogra(?:m|phy)\b|\bcta\b", " cta "),
    (r"\btransthoracic echo(?:cardiogram)?\b|\bechocardiogram\b|\btte\b|\becho\b", " echo "),
    (r"\b(renal|abdominal|abd|ruq|duplex|doppler|venous|lowerext) us\b", r" \1 ultrasound "),
    (r"\bultrasonography\b", " ultrasound "), (r"\bcr\b", " creatinine "),
    (r"\bhemoglobin\b|\bhb\b", " hgb "), (r"\bk\b(?= ?\d)", " potassium "),
    (r"\bblood pressure\b", " bp "), (r"\bmyocardial infarction\b", " mi "),
    (r"\bacute coronary syndrome\b", " acs "),
    (r"\bpacked red (?:blood )?cells\b|\bprbcs?\b|\bunits? of blood\b", " prbc "),
    (r"\bprimary care(?: physician| provider| doctor| clinic)?\b|\bpcp\b", " pcp "),
    (r"\b(\w+)ologist\b", r" \1ology "), (r"\bskilled nursing(?: facility)?\b", " snf "),
    (r"\brehabilitation\b", " rehab "), (r"\bweight[- ]bearing as tolerated\b", " wbat "),
    (r"\bintramedullary\b", " im "), (r"\bopen reduction (?:and )?internal fixation\b", " orif "),
    (r"\btransient ischemic attack\b", " tia "), (r"\binternal carotid(?: artery)?\b", " ica "),
    (r"\bcarotid endarterectomy\b", " cea "),
    (r"\bmagnetic resonance imaging\b", " mri "),
    (r"\blow (?:blood )?(?:sugars?|glucoses?|bgs?)\b|\blows\b", " hypoglycemia "),
    (r"\bblood sugars?\b|\bsugars?\b|\bfsbg\b|\bfingersticks?\b|\bbg\b", " glucose "),
    (r"\bivf\b", " iv fluids "), (r"\bgtt\b|\binfusion\b", " drip "),
    (r"\btemp\b|\btmax\b", " temperature "),
    (r"\be\. ?coli\b|\bescherichia coli\b", " ecoli "),
    (r"\bh\. ?pylori\b|\bhelicobacter pylori\b", " hpylori "),
    (r"\bno growth(?: to date)?\b|\bngtd\b", " negative "),
    (r"\bruled out\b|\brule out\b", " ruledout "), (r"\bwithin normal limits\b|\bwnl\b",
                                                    " normal "),
    (r"\bemergency (?:department|room)\b|\ber\b", " ed "),
    # brand -> generic
    (r"\blasix\b", " furosemide "), (r"\beliquis\b", " apixaban "),
    (r"\bxarelto\b", " rivaroxaban "), (r"\bcoumadin\b|\bjantoven\b", " warfarin "),
    (r"\binsulin glargine\b|\blantus\b|\bbasaglar\b", " glargine "),
    (r"\binsulin lispro\b|\bhumalog\b", " lispro "), (r"\blovenox\b", " enoxaparin "),
    (r"\baugmentin\b", " amoxicillin clavulanate "), (r"\bkeflex\b", " cephalexin "),
    (r"\bplavix\b", " clopidogrel "), (r"\blipitor\b", " atorvastatin "),
    (r"\bprotonix\b", " pantoprazole "), (r"\bspiriva\b", " tiotropium "),
    (r"\bjardiance\b", " empagliflozin "), (r"\bfarxiga\b", " dapagliflozin "),
    (r"\bozempic\b", " semaglutide "), (r"\bcipro\b", " ciprofloxacin "),
    (r"\blevaquin\b", " levofloxacin "), (r"\brocephin\b", " ceftriaxone "),
    (r"\bzithromax\b|\bz-?pa?c?k\b", " azithromycin "), (r"\btylenol\b", " acetaminophen "),
    (r"\bmotrin\b|\badvil\b", " ibuprofen "), (r"\baldactone\b", " spironolactone "),
    (r"\bnorvasc\b", " amlodipine "), (r"\bcardizem\b", " diltiazem "),
    (r"\btoprol(?: xl)?\b", " metoprolol succinate "), (r"\blopressor\b", " metoprolol "),
    (r"\bhctz\b", " hydrochlorothiazide "), (r"\bglucophage\b", " metformin "),
    (r"\bsynthroid\b", " levothyroxine "), (r"\bcoreg\b", " carvedilol "),
    (r"\bpip-?tazo?\b|\bzosyn\b", " piperacillin tazobactam "),
    (r"\bbactrim(?: ds)?\b|\bsulfamethoxazole[- ]trimethoprim\b"
     r"|\btrimethoprim[- ]sulfamethoxazole\b", " tmp smx "),
)
_PHRASES = tuple((re.compile(p), r) for p, r in PHRASES)

NUMBER_WORDS = {"one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
                "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11",
                "twelve": "12", "fourteen": "14", "twenty": "20", "thirty": "30"}

STOPWORDS = frozenset("""
a an the of to in on at for with by from as and or but nor so than too very into onto over
under per via after before during since until about against between through up down out off
this that these those it its he she his her him hers they them their we our us i my me you your
who whom whose which what when where while how why there here if then also both each all any
some other such only own same just again once further more most
is are was were be been being am has have had having do does did done doing will would shall
should can could may might must
patient pt pts mr mrs ms dr s t q statuspost
showed show shows shown revealed reveals noted notes note found demonstrated demonstrating
underwent undergo received receive given gave got get gets getting report reports reported
reporting state states stated plan planned per due secondary likely
""".split())

# Units that name what a number measures (after normalisation and stemming).
UNITS = frozenset({"mg", "mcg", "g", "kg", "lb", "l", "ml", "unit", "%", "meq", "mmol", "mmhg",
                   "day", "week", "month", "hour", "minut", "year", "cm", "mm", "bpm", "dl"})
# Frequency and route words: never a number's anchor (they follow many drugs alike).
_DOSE_WORDS = frozenset({"bid", "tid", "qid", "daili", "qh", "po", "iv", "prn", "sc", "total",
                         "dose", "new", "home", "ad", "add", "start", "continu", "increas",
                         "decreas", "reduc"})

# Drug names (stemmed when compared): a fact naming one is covered only where it is named.
DRUGS = frozenset("""
furosemide torsemide bumetanide spironolactone eplerenone empagliflozin dapagliflozin metoprolol
carvedilol diltiazem verapamil amlodipine lisinopril losartan sacubitril valsartan
hydrochlorothiazide chlorthalidone digoxin amiodarone apixaban rivaroxaban warfarin enoxaparin
heparin aspirin clopidogrel ticagrelor atorvastatin rosuvastatin ceftriaxone azithromycin
doxycycline amoxicillin clavulanate cefpodoxime cephalexin cefazolin vancomycin ciprofloxacin
levofloxacin nitrofurantoin piperacillin tazobactam metronidazole prednisone methylprednisolone
tiotropium albuterol ipratropium budesonide fluticasone glargine lispro insulin metformin
semaglutide glipizide pantoprazole omeprazole famotidine ibuprofen naproxen acetaminophen
oxycodone tramadol gabapentin nicotine levothyroxine tamsulosin sertraline allopurinol
potassium magnesium ondansetron senna docusate melatonin dicloxacillin clotrimazole
pravastatin simvastatin umeclidinium vilanterol formoterol salmeterol tmp smx
lantus keflex ozempic tylenol eliquis lasix
""".split())

# Opposed sides: axis -> {side: words (lower-case surface forms)}.
AXES: dict[str, dict[str, tuple[str, ...]]] = {
    "side": {"left": ("left", "l"), "right": ("right", "r"), "both": ("bilateral",)},
    "dose": {"up": ("increased", "increase", "increasing", "uptitrated", "raised"),
             "down": ("decreased", "decrease", "decreasing", "reduced", "reduce", "lowered",
                      "tapered", "downtitrated")},
    "on_off": {"on": ("started", "start", "starting", "initiated", "added", "continued",
                      "continue", "resumed", "resume", "restarted", "restart", "begun"),
               "off": ("stopped", "stop", "stopping", "discontinued", "discontinue", "held",
                       "hold", "holding")},
    "course": {"better": ("improved", "improving", "better"),
               "worse": ("worsened", "worsening", "worse")},
}
_SIDE_OF = {w: (axis, side) for axis, sides in AXES.items()
            for side, words in sides.items() for w in words}
OPPOSITE_WORDS = {"left": "right", "right": "left", "increased": "decreased",
                  "decreased": "increased", "reduced": "increased", "started": "stopped",
                  "initiated": "stopped", "added": "stopped", "continued": "held",
                  "resumed": "held", "restarted": "held", "held": "continued",
                  "stopped": "continued", "discontinued": "continued", "improved": "worsened",
                  "worsened": "improved", "bilateral": "left"}

PRE_NEGATIONS = frozenset({"no", "not", "without", "denies", "denied", "deny", "denying", "never",
                           "neither", "nor", "cannot", "none"})
PSEUDO_NEGATED = frozenset({"change", "changes", "changed", "only", "difficulty", "necessarily"})
POST_NEGATIONS = frozenset({"negative", "ruledout", "resolved", "absent", "normal",
                            "unremarkable"})
# Words that end a negation's scope once a content word is in it.
SCOPE_ENDS = frozenset({"and", "but", "however", "although", "though", "except", "which", "who",
                        "whereas", "while", "then", "on", "at", "after", "since", "so",
                        "because", "due", "with", "when", "as", "started", "start", "continued",
                        "discontinued", "stopped", "held", "resumed"})
PRE_SCOPE, POST_SCOPE = 5, 4

COVERAGE_SHARE = 0.6  # a fact is covered when its window holds this share of its content words
MAX_WORDS = 80  # a summary with more words is over-long (SummaryTask.max_words)

_TOKEN = re.compile(
    r"(?P<num>(?<![\w.])\.\d+|\d{1,3}(?:,\d{3})+(?![\d,])|\d+(?:\.\d+)?)"
    r"|(?P<word>[a-z][a-z0-9]*(?:'[a-z]+)?)"
    r"|(?P<stop>[.!?;\n])"
    r"|(?P<pct>%)"
    r"|(?P<clause>[,:()\[\]]|--|->|—|–)"
)


@lru_cache(maxsize=1)
def _stemmer():
    # Imported on first use: nltk takes ~2 s to import, and most jobs never grade a summary.
    from nltk.stem.porter import PorterStemmer  # nltk comes with rouge-score

    return PorterStemmer()


@lru_cache(maxsize=100_000)
def _stem(word: str) -> str:
    return _stemmer().stem(word) if len(word) > 3 else word


@dataclass(slots=True)
class _Tok:
    kind: str  # "w" word, "n" number, "c" clause boundary, "s" sentence boundary
    raw: str  # lower-cased, normalised surface form
    norm: str  # what matching compares: stem, canonical number, or the boundary
    clause: int = 0
    neg: bool = False
    content: bool = False
    head: bool = False  # the negated word next to its cue


def _normalise(text: str) -> str:
    text = text.lower().replace("’", "'")
    for pattern, repl in _PHRASES:
        text = pattern.sub(repl, text)
    return text


def _number(raw: str) -> str:
    value = float(raw.replace(",", ""))
    return f"{value:g}" if value != int(value) else str(int(value))


@lru_cache(maxsize=4096)
def _tokens(text: str) -> tuple[_Tok, ...]:
    toks: list[_Tok] = []
    for m in _TOKEN.finditer(_normalise(text)):
        kind = m.lastgroup
        raw = m.group(0)
        if kind == "num":
            toks.append(_Tok("n", raw, _number(raw), content=True))
        elif kind == "word":
            raw = NUMBER_WORDS.get(raw, raw)
            if raw.endswith("n't") or raw == "cannot":  # "haven't", "didn't": a negation
                raw = "not"
            if raw.isdigit():
                toks.append(_Tok("n", raw, raw, content=True))
                continue
            prev_num = bool(toks) and toks[-1].kind == "n"
            if raw == "l" and not prev_num:  # "L knee": laterality, not litres
                raw = "left"
            elif raw == "r" and not prev_num:
                raw = "right"
            norm = _stem(raw)
            content = (raw not in STOPWORDS and raw not in PRE_NEGATIONS
                       and raw not in POST_NEGATIONS and norm not in STOPWORDS)
            toks.append(_Tok("w", raw, norm, content=content))
        elif kind == "pct":
            toks.append(_Tok("w", "%", "%", content=True))
        else:
            toks.append(_Tok("s" if kind == "stop" else "c", raw, raw))
    clause = 0
    for tok in toks:
        if tok.kind == "s":
            clause += 1
        tok.clause = clause
    _mark_negation(toks)
    return tuple(toks)


def _mark_negation(toks: list[_Tok]) -> None:
    """NegEx-like scopes: a cue negates the content words after it (or before it)."""
    for i, tok in enumerate(toks):
        if tok.kind != "w":
            continue
        nxt = toks[i + 1].raw if i + 1 < len(toks) else ""
        prev = toks[i - 1].raw if i else ""
        if nxt in PSEUDO_NEGATED or (tok.raw == "negative" and prev in ("net", "gram")):
            continue  # "no change in", "not only", "net negative 2 L", "gram negative rods"
        pre = tok.raw in PRE_NEGATIONS or (tok.raw == "negative" and nxt == "for")
        post = tok.raw in POST_NEGATIONS and not pre
        if pre:
            seen, steps, j = False, 0, i + 1
            while j < len(toks) and steps < PRE_SCOPE:
                t = toks[j]
                if t.kind in "sc" or t.raw in PRE_NEGATIONS or (seen and t.raw in SCOPE_ENDS):
                    break
                if t.content:
                    t.neg, t.head, seen = True, t.head or not seen, True
                    steps += 1
                j += 1
        elif post:
            steps, j = 0, i - 1
            while j >= 0 and steps < POST_SCOPE:
                t = toks[j]
                if t.kind in "sc" or t.raw in SCOPE_ENDS or t.raw in PRE_NEGATIONS:
                    break
                if t.content:
                    t.neg, t.head = True, t.head or steps == 0
                    steps += 1
                j -= 1


# ----------------------------------------------------------------------------------------------
# Facts and the rubric
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fact:
    content: frozenset[str]
    numbers: tuple[tuple[str, str, frozenset[str]], ...]  # (value, unit, anchors)
    drugs: frozenset[str]
    sides: frozenset[tuple[str, str]]
    negated: frozenset[str]  # content words the fact negates


def _unit_after(toks: Sequence[_Tok], i: int) -> str:
    if i + 1 < len(toks) and toks[i + 1].kind == "w" and toks[i + 1].norm in UNITS:
        return toks[i + 1].norm
    return ""


def _anchors(toks: Sequence[_Tok], i: int) -> frozenset[str]:
    """Content words naming what the number at ``i`` measures: up to 3 before it in its
    clause, else up to 3 after it."""
    def grab(indices) -> list[str]:
        found = []
        for j in indices:
            t = toks[j]
            if t.kind in "sc" or len(found) == 3:
                break
            if (t.kind == "w" and t.content and t.norm not in UNITS
                    and t.norm not in _DOSE_WORDS):
                found.append(t.norm)
        return found
    before = grab(range(i - 1, max(i - 6, -1), -1))
    return frozenset(before or grab(range(i + 1, min(i + 7, len(toks)))))


def _sides(toks: Sequence[_Tok]) -> frozenset[tuple[str, str]]:
    return frozenset(_SIDE_OF[t.raw] for t in toks if t.kind == "w" and t.raw in _SIDE_OF)


@lru_cache(maxsize=20_000)
def _fact(text: str) -> _Fact:
    toks = _tokens(text)
    numbers = tuple((t.norm, _unit_after(toks, i), _anchors(toks, i))
                    for i, t in enumerate(toks) if t.kind == "n")
    return _Fact(
        content=frozenset(t.norm for t in toks if t.content),
        numbers=numbers,
        drugs=frozenset(t.norm for t in toks if t.kind == "w" and t.raw in DRUGS),
        sides=_sides(toks),
        negated=frozenset(t.norm for t in toks if t.content and t.neg and t.kind == "w"),
    )


def _windows(toks: Sequence[_Tok]) -> tuple[list[list[_Tok]], list[list[_Tok]]]:
    """The summary's clauses, and the pairs of consecutive clauses."""
    clauses: dict[int, list[_Tok]] = {}
    for t in toks:
        if t.kind != "s":
            clauses.setdefault(t.clause, []).append(t)
    ordered = [c for _, c in sorted(clauses.items()) if c]
    return ordered, [a + b for a, b in zip(ordered, ordered[1:], strict=False)]


def _best_window(fact: _Fact, windows: list[list[_Tok]]) -> tuple[list[_Tok], set[str]]:
    best: list[_Tok] = []
    best_matched: set[str] = set()
    for window in windows:  # clauses first, then pairs: a strict > keeps the earliest, shortest
        matched = {t.norm for t in window if t.content} & fact.content
        if len(matched) > len(best_matched):
            best, best_matched = window, matched
    return best, best_matched


def _numbers(toks: Sequence[_Tok]) -> list[tuple[str, str, frozenset[str]]]:
    return [(t.norm, _unit_after(toks, i), _anchors(toks, i))
            for i, t in enumerate(toks) if t.kind == "n"]


def _has_number(numbers: list[tuple[str, str, frozenset[str]]], value: str, unit: str) -> bool:
    """Whether ``value`` is given with ``unit`` (or with no unit where either has none)."""
    return any(v == value and (u == unit or not u or not unit) for v, u, _ in numbers)


def _contradiction(fact: _Fact, window: list[_Tok], matched: set[str]) -> str | None:
    """Why the window contradicts the fact, or None."""
    if not fact.content or len(matched) < 0.5 * len(fact.content):
        return None
    words = [t for t in window if t.kind == "w" and t.content]
    # (a) negation flipped
    polarity: dict[str, set[bool]] = {}
    for t in words:
        polarity.setdefault(t.norm, set()).add(t.neg)
    for norm in sorted(fact.negated):
        if polarity.get(norm) == {False}:
            return f"negation dropped: {norm}"
    if not fact.negated:
        flipped = sorted(n for n in matched if polarity.get(n) == {True})
        heads = {t.norm for t in words if t.head}
        words_matched = [n for n in matched if not n[0].isdigit()]
        if flipped and (heads & set(flipped) or len(flipped) >= 0.5 * len(words_matched)):
            return f"negation added: {', '.join(flipped)}"
    # (b) a different number for the same quantity
    fact_values = {v for v, _, _ in fact.numbers}
    window_numbers = _numbers(window)
    for value, unit, anchors in fact.numbers:
        if _has_number(window_numbers, value, unit):
            continue
        for other, other_unit, other_anchors in window_numbers:
            if other not in fact_values and other_unit == unit and anchors & other_anchors:
                return f"number {other} for {value}"
    # (c) an opposed side
    window_sides = _sides(window)
    for axis, side in sorted(fact.sides):
        here = {s for a, s in window_sides if a == axis}
        if here and side not in here:
            return f"{axis}: {', '.join(sorted(here))} for {side}"
    return None


def _covered(fact: _Fact, window: list[_Tok], matched: set[str]) -> bool:
    if not fact.content or len(matched) < COVERAGE_SHARE * len(fact.content):
        return False
    numbers = _numbers(window)
    if not all(_has_number(numbers, v, u) for v, u, _ in fact.numbers):
        return False
    if not fact.drugs <= {t.norm for t in window}:
        return False
    lateral = {s for s in fact.sides if s[0] == "side"}
    return lateral <= _sides(window)


def fact_status(summary: str, key_fact: str) -> str:
    """``"covered"``, ``"contradicted"`` or ``"missing"``: one key fact against a summary."""
    return _judge(_fact(key_fact), _windows(_tokens(summary)))[0]


def _judge(fact: _Fact, windows: tuple[list, list]) -> tuple[str, str | None]:
    """(status, reason): contradictions are read in the fact's best clause, coverage in its
    best clause or pair of clauses."""
    clauses, pairs = windows
    clause, matched = _best_window(fact, clauses)
    reason = _contradiction(fact, clause, matched)
    if reason:
        return "contradicted", reason
    window, matched = _best_window(fact, clauses + pairs)
    return ("covered" if _covered(fact, window, matched) else "missing"), None


def grade_from(covered: int, total: int, contradictions: int, over_long: bool) -> int:
    """The rubric's grade from its counts (the bands in the module docstring)."""
    share = covered / total if total else 0.0
    grade = 5 if share >= 1 else 4 if share >= 0.75 else 3 if share >= 0.5 else (
        2 if share >= 0.25 else 1)
    return max(1, grade - contradictions - int(over_long))


def word_count(text: str) -> int:
    return len(text.split())


def rubric_grade(summary: str | None, key_facts: Sequence[str], *, source: str | None = None,
                 max_words: int = MAX_WORDS) -> dict:
    """Grade ``summary`` 1-5 against ``key_facts`` (plain strings) by the module's rubric.

    Returns ``grade``, ``facts_covered``, ``facts_total``, ``contradictions``, ``over_long``
    (bool), ``words``, and per fact ``status`` ("covered", "contradicted", "missing") and
    ``reasons`` (why a fact is contradicted, else None). ``source`` is the note: a summary with
    more words than it is over-long, as is one with more than ``max_words``.
    """
    facts = [f for f in key_facts if f and f.strip()]
    if not facts:
        raise ValueError("rubric_grade needs at least one non-empty key fact")
    total = len(facts)
    if summary is None or not re.search(r"[A-Za-z]", summary):
        return {"grade": 1, "facts_covered": 0, "facts_total": total, "contradictions": 0,
                "over_long": False, "words": 0, "status": ["missing"] * total,
                "reasons": [None] * total}
    windows = _windows(_tokens(summary))
    status, reasons = [], []
    for text in facts:
        state, reason = _judge(_fact(text), windows)
        status.append(state)
        reasons.append(reason)
    words = word_count(summary)
    over_long = words > max_words or (source is not None and words > word_count(source))
    covered, contradictions = status.count("covered"), status.count("contradicted")
    return {"grade": grade_from(covered, total, contradictions, over_long),
            "facts_covered": covered, "facts_total": total, "contradictions": contradictions,
            "over_long": over_long, "words": words, "status": status, "reasons": reasons}


# ----------------------------------------------------------------------------------------------
# ROUGE-L, parsing, key facts of an item
# ----------------------------------------------------------------------------------------------

_ROUGE = None


def rouge_l(prediction: str | None, reference: str) -> float:
    """ROUGE-L F-measure of ``prediction`` against ``reference`` (Google's rouge-score, Porter
    stemming); 0.0 without a prediction."""
    global _ROUGE
    if not prediction:
        return 0.0
    if _ROUGE is None:
        from rouge_score import rouge_scorer
        _ROUGE = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return float(_ROUGE.score(reference, prediction)["rougeL"].fmeasure)


_LABEL = re.compile(r"^\s*[*#]*\s*(?:brief |short )?summary\s*[*#]*\s*:\s*[*#]*\s*", re.I)
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*(?=\s|$)")


def parse_summary(completion: str) -> str | None:
    """The summary in a raw completion (the rule in the module docstring), or None."""
    text = " ".join(_LABEL.sub("", completion or "").split())
    if not re.search(r"[A-Za-z]", text):
        return None
    ends = list(_SENTENCE_END.finditer(text))
    if ends and ends[-1].end() < len(text) and _cut_off(text[ends[-1].end():]):
        text = text[: ends[-1].end()]
    return text


def _cut_off(fragment: str) -> bool:
    """Whether a trailing fragment without end punctuation reads as cut mid-sentence: it ends
    in a digit (a number may be cut: "furosemide 4"), a stopword or a joining mark."""
    fragment = fragment.rstrip()
    last = re.findall(r"[A-Za-z]+$", fragment)
    return (not fragment or fragment[-1].isdigit() or fragment[-1] in ",;:-/(+&"
            or (bool(last) and last[0].lower() in STOPWORDS | PRE_NEGATIONS))


def key_facts_of(item: dict) -> list[str]:
    """An item's key facts: a list of strings, or one string with one fact per line (else
    separated by " | " or ";"), as a user's CSV/JSONL may hold them. An item without any
    (``key_facts`` absent or None: a dataset that has none) has its reference's clauses
    (:func:`reference_facts`)."""
    facts = item.get("key_facts")
    if facts is None:
        facts = reference_facts(item["reference"])
        if not facts:
            raise ValueError(f"item {item.get('id')!r} has no key_facts, and its reference "
                             f"{item['reference']!r} has no clause with a content word")
        return facts
    if isinstance(facts, str):
        text = facts.strip()
        sep = "\n" if "\n" in text else "|" if "|" in text else ";"
        facts = text.split(sep)
    facts = [str(f).strip() for f in facts if str(f).strip()]
    if not facts:
        raise ValueError(f"item {item.get('id')!r} has no key facts")
    return facts


@lru_cache(maxsize=20_000)
def _reference_facts(reference: str) -> tuple[str, ...]:
    clauses = [clause.strip(" .!?") for sentence in _split_sentences(reference)
               for clause in re.split(r"[;:]\s+|,\s+", sentence)]
    facts: list[str] = []
    for clause in clauses:
        words = [word for word in _fact(clause).content if word[0].isalpha()]
        if words and clause not in facts and (
                fact_status(reference, clause) == "covered"):
            facts.append(clause)
    return tuple(facts)


def reference_facts(reference: str) -> list[str]:
    """Key facts for a summary item whose data has none: the reference's clauses (its
    sentences cut at ``; : ,``), each kept when it has a content word with a letter (not a list
    number such as "1.") and the rubric finds it
    covered in the reference itself, so the reference grades 5. A one-clause reference gives
    one fact: its grade is then all or nothing (5, or 1 when the clause is missing)."""
    return list(_reference_facts(reference))


# ----------------------------------------------------------------------------------------------
# Degraders: rejected summaries for preference pairs
# ----------------------------------------------------------------------------------------------


def _split_sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z0-9(])", text.strip()) if s]


def _units(reference: str) -> tuple[list[str], str]:
    """The reference's sentences, or its clauses when it is one sentence, and their joiner."""
    sentences = _split_sentences(reference)
    if len(sentences) > 1:
        return sentences, " "
    clauses = [c.strip() for c in re.split(r";\s+|,\s+(?:and\s+)?", reference.strip()) if c.strip()]
    return clauses, "; "


def _finish(units: list[str], joiner: str) -> str:
    text = joiner.join(units).strip()
    text = text[0].upper() + text[1:] if text else text
    return text if text.endswith((".", "!", "?")) else text.rstrip(";,") + "."


def _reference_grade(item: dict) -> tuple[str, list[str], int]:
    reference, facts = item["reference"], key_facts_of(item)
    return reference, facts, rubric_grade(reference, facts)["grade"]


def drop_key_facts(item: dict, rng: random.Random, n: int = 1) -> str:
    """The reference without the sentences that carry ``n`` randomly chosen key facts (clauses
    when the reference is a single sentence). The result grades lower than the reference;
    ValueError when no choice does (e.g. no key fact is found in the reference)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    reference, facts, base = _reference_grade(item)
    units, joiner = _units(reference)
    carriers = {k: {i for i, u in enumerate(units) if fact_status(u, f) == "covered"}
                for k, f in enumerate(facts)}
    found = [k for k, units_of in carriers.items() if units_of]
    if not found:
        raise ValueError(f"item {item.get('id')!r}: no key fact is found in any single "
                         "sentence of the reference; cannot drop one")
    rng.shuffle(found)
    tries = [found[i:] + found[:i] for i in range(len(found))]
    for order in tries:
        for size in range(min(n, len(order)), 0, -1):
            drop = set().union(*(carriers[k] for k in order[:size]))
            kept = [u for i, u in enumerate(units) if i not in drop]
            if not kept:
                continue
            text = _finish(kept, joiner)
            if rubric_grade(text, facts)["grade"] < base:
                return text
    raise ValueError(f"item {item.get('id')!r}: dropping key-fact sentences never lowers the "
                     "grade (one sentence carries every fact?)")


_NEGATION_EDITS = ((r"\bnegative for\b", "positive for"), (r"\bno evidence of\b", "evidence of"),
                   (r"\bwithout\b", "with"), (r"\bdenies\b", "reports"),
                   (r"\bdenied\b", "reported"), (r"\bruled out\b", "confirmed"),
                   (r"\bnot\s+", ""), (r"\bno\s+", ""), (r"\bnegative\b", "positive"),
                   (r"\bnormal\b", "abnormal"), (r"\bresolved\b", "persisted"))
_NEGATION_ADDS = ((r"\b(was|were|is|are|has been|have been)\s+(?!not\b)", r"\1 not "),)
DRUG_SWAPS = {
    "apixaban": "rivaroxaban", "rivaroxaban": "apixaban", "warfarin": "apixaban",
    "enoxaparin": "heparin", "heparin": "enoxaparin", "furosemide": "torsemide",
    "torsemide": "furosemide", "spironolactone": "eplerenone", "empagliflozin": "dapagliflozin",
    "dapagliflozin": "empagliflozin", "metoprolol": "carvedilol", "carvedilol": "metoprolol",
    "diltiazem": "verapamil", "lisinopril": "losartan", "losartan": "lisinopril",
    "amlodipine": "lisinopril", "aspirin": "clopidogrel", "clopidogrel": "ticagrelor",
    "atorvastatin": "rosuvastatin", "ceftriaxone": "cefazolin", "cefazolin": "ceftriaxone",
    "azithromycin": "doxycycline", "doxycycline": "azithromycin", "cephalexin": "cefpodoxime",
    "cefpodoxime": "cephalexin", "ciprofloxacin": "levofloxacin",
    "levofloxacin": "ciprofloxacin", "prednisone": "methylprednisolone",
    "tiotropium": "albuterol", "glargine": "lispro", "lispro": "glargine",
    "metformin": "glipizide", "semaglutide": "metformin", "pantoprazole": "omeprazole",
    "ibuprofen": "naproxen", "naproxen": "ibuprofen", "acetaminophen": "ibuprofen",
    "oxycodone": "tramadol", "hydrochlorothiazide": "chlorthalidone", "amoxicillin": "cephalexin",
}


def _same_case(word: str, like: str) -> str:
    if like.isupper() and len(like) > 1:
        return word.upper()
    return word[0].upper() + word[1:] if like[:1].isupper() else word


def _other_number(value: str, rng: random.Random, avoid: set[str]) -> str:
    """A plausible wrong value: a dose doubled or halved, a count off by one or two, a
    measurement off by 10-30% (pH by 0.1-0.2)."""
    number = float(value)
    decimals = len(value.split(".")[1]) if "." in value else 0
    if decimals and 6.5 < number < 8 and decimals == 2:  # a pH
        options = [number - 0.1, number - 0.15, number + 0.1, number - 0.2]
    elif decimals and number > 50:  # a temperature, a weight
        options = [number + d for d in (-2.5, -1.5, 1.2, 2.1)]
    elif decimals:
        options = [number * f for f in (0.7, 0.8, 1.25, 1.4)]
    elif number <= 12:
        options = [number + 1, number + 2, number * 2, number - 1]
    elif number % 5 == 0:
        options = [number * 2, number / 2, number * 1.5]
    else:
        options = [round(number * f) for f in (0.75, 0.85, 1.15, 1.3)]
    texts = []
    for option in options:
        text = f"{option:.{decimals}f}" if decimals else str(int(option))
        if (option > 0 and (decimals or option == int(option)) and text != value
                and _number(text) not in avoid and text not in texts):
            texts.append(text)
    rng.shuffle(texts)
    return texts[0] if texts else f"{number + 1:.{decimals}f}"


_COUNTED = r"(unit|day|week|month|hour|minute|year|tab|puff|drink)"


def _agree(rest: str, number: str) -> str:
    """``rest`` (the text after a changed number) with its counted noun in agreement."""
    if number == "1":
        return re.sub(rf"^(\s*-?){_COUNTED}s\b", r"\1\2", rest)
    return re.sub(rf"^(\s+){_COUNTED}\b(?!s)", r"\1\2s", rest)


def _edits(sentence: str, fact: str, rng: random.Random) -> list[tuple[str, str]]:
    """(kind, edited sentence) candidates that contradict ``fact`` within ``sentence``."""
    out: list[tuple[str, str]] = []
    parsed = _fact(fact)
    values = {v for v, _, _ in parsed.numbers}
    for m in re.finditer(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.]\d)", sentence):
        if _number(m.group(0)) in values:
            new = _other_number(m.group(0), rng, values)
            rest = _agree(sentence[m.end():], new)
            out.append(("number", sentence[: m.start()] + new + rest))
    fact_words = {w.lower() for w in re.findall(r"[A-Za-z]+", _normalise(fact))}
    for m in re.finditer(r"[A-Za-z]+", sentence):
        word = m.group(0)
        low = word.lower()
        if low in OPPOSITE_WORDS and (low in fact_words or _SIDE_OF.get(low) in parsed.sides):
            new = _same_case(OPPOSITE_WORDS[low], word)
            out.append(("side", sentence[: m.start()] + new + sentence[m.end():]))
        elif low in DRUG_SWAPS and low in fact_words:
            new = _same_case(DRUG_SWAPS[low], word)
            out.append(("drug", sentence[: m.start()] + new + sentence[m.end():]))
    edits = _NEGATION_EDITS if parsed.negated else _NEGATION_ADDS
    for pattern, repl in edits:
        for m in re.finditer(pattern, sentence, flags=re.I):
            new = re.sub(pattern, repl, m.group(0), flags=re.I)
            if m.group(0)[:1].isupper():
                new = new[:1].upper() + new[1:]
            edited = sentence[: m.start()] + new + sentence[m.end():]
            edited = edited[:1].upper() + edited[1:]
            out.append(("negation", edited))
    return out


def contradict_fact(item: dict, rng: random.Random) -> str:
    """The reference with one key fact contradicted in its sentence: a number changed, a side
    flipped (left/right, increased/decreased, started/stopped), a negation dropped (or added to
    a fact without one), or a drug swapped. The result grades lower than the reference and
    the edited fact reads as contradicted (or, for a swapped drug, missing); ValueError when
    no edit does."""
    reference, facts, base = _reference_grade(item)
    sentences = _split_sentences(reference)
    order = list(range(len(facts)))
    rng.shuffle(order)
    candidates: list[tuple[int, int, str, str]] = []
    for k in order:
        for i, sentence in enumerate(sentences):
            if fact_status(sentence, facts[k]) != "covered":
                continue
            for kind, edited in _edits(sentence, facts[k], rng):
                candidates.append((k, i, kind, edited))
    rng.shuffle(candidates)
    # An edit counts when the grade drops and the fact is no longer covered; among those,
    # one that reads as a contradiction beats one that only loses the fact (a swapped drug),
    # and the kind of edit (number, side, negation, drug) is drawn uniformly.
    found: dict[str, list[tuple[bool, str]]] = {}
    for k, i, kind, edited in candidates:
        text = " ".join(sentences[:i] + [edited] + sentences[i + 1:])
        result = rubric_grade(text, facts)
        if result["grade"] < base and result["status"][k] != "covered":
            found.setdefault(kind, []).append((result["status"][k] != "contradicted", text))
    if not found:
        raise ValueError(f"item {item.get('id')!r}: no key fact of the reference can be "
                         "contradicted (no number, side, negation or known drug to change)")
    best = min(flag for options in found.values() for flag, _ in options)
    kinds = sorted(kind for kind, options in found.items() if any(f == best for f, _ in options))
    kind = rng.choice(kinds)
    return next(text for flag, text in found[kind] if flag == best)


def degraded_summary(item: dict, rng: random.Random) -> str:
    """A rejected summary for a preference pair: :func:`contradict_fact` or
    :func:`drop_key_facts` (half each, falling back on the other); ValueError when neither
    can lower the reference's grade."""
    makers = [contradict_fact, drop_key_facts]
    if rng.random() < 0.5:
        makers.reverse()
    errors = []
    for make in makers:
        try:
            return make(item, rng)
        except ValueError as error:
            errors.append(str(error))
    raise ValueError("; ".join(errors))


# ----------------------------------------------------------------------------------------------
# The task
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SummaryTask(Task):
    """Free-text summary of a note, graded 1-5 by ``grader`` plus ROUGE-L. ``grader`` is the
    key-fact rubric: ``grader(summary, key_facts, *, source, max_words)`` returning at least
    ``grade``, ``facts_covered``, ``facts_total`` and ``contradictions``.

    Items: ``text`` (the note), ``reference`` (a reference summary), ``key_facts`` (see
    :func:`key_facts_of`). ``build_items`` makes the built-in data; None for a user's data.
    """

    kind: ClassVar[str] = "summary"
    default_pair_strategy: ClassVar[str] = "degraded_summary"
    default_max_new_tokens: ClassVar[int] = 96

    name: str
    family: str
    description: str
    instruction: str
    build_items: Callable[..., list[dict]] | None = None
    max_sentences: int = 4
    max_words: int = MAX_WORDS
    grader: Callable[..., dict] = rubric_grade
    stratify_fields: tuple[str, ...] = ("scenario",)
    group_field: str = "group"
    metrics: tuple[str, ...] = ("likert", "rouge_l")

    def gold(self, item: dict) -> str:
        return item["reference"]

    def prompt_messages(self, item: dict) -> list[dict]:
        ask = f"Summarize in at most {self.max_sentences} sentences."
        return [
            {"role": "system", "content": self.instruction},
            {"role": "user", "content": f"{item['text'].strip()}\n\n{ask}"},
        ]

    def completion(self, item: dict) -> str:
        return item["reference"]

    def parse(self, completion: str, item: dict | None = None) -> str | None:
        return parse_summary(completion)

    def word_limit(self, item: dict) -> int:
        """Words above which a summary of ``item`` is over-long: the larger of ``max_words``
        and 1.5 times the reference's words, but no more than the note's words, unless the
        reference is longer than its note (a real dataset's may be): then the reference's,
        so that the reference itself is never over-long."""
        reference = word_count(item["reference"])
        limit = max(self.max_words, math.ceil(1.5 * reference))
        if item.get("text"):
            limit = min(limit, max(word_count(item["text"]), reference))
        return limit

    def score(self, item: dict, parsed: str | None) -> dict:
        result = self.grader(parsed, key_facts_of(item), source=None,
                             max_words=self.word_limit(item))
        return {"score": int(result["grade"]),
                "rouge_l": rouge_l(parsed, item["reference"]) if parsed else 0.0,
                "facts_covered": int(result["facts_covered"]),
                "facts_total": int(result["facts_total"]),
                "contradictions": int(result["contradictions"])}

    def degrade(self, item: dict, rng: random.Random) -> str:
        """A rejected completion for ``item`` (see :func:`degraded_summary`)."""
        return degraded_summary(item, rng)

    def stratum(self, item: dict) -> str:
        """The ``stratify_fields`` the item has, joined; "all" when it has none."""
        return "|".join(str(item[f]) for f in self.stratify_fields if f in item) or "all"


# ----------------------------------------------------------------------------------------------
# The built-in data: brief hospital courses and patient messages
# ----------------------------------------------------------------------------------------------

HARD_VARIANTS = ("negated_finding", "changed_plan", "distractor")


@dataclass
class _Case:
    parts: list[tuple[str, str]]  # (section, sentence) of the note, in order
    ref: list[str]  # reference sentences
    facts: list[str]
    message: bool = False
    avoid: tuple[str, ...] = ()  # distractor tags that would clash with the case


@dataclass(frozen=True)
class _Patient:
    age: int
    male: bool

    @property
    def sex(self) -> str:
        return "M" if self.male else "F"

    @property
    def man(self) -> str:
        return "man" if self.male else "woman"


def _who(r: random.Random, p: _Patient) -> str:
    return r.choice((f"{p.age}{p.sex}", f"{p.age} y/o {p.sex}", f"{p.age}yo {p.sex}",
                     f"{p.age} yo {p.man}", f"{p.age}-year-old {p.man}",
                     f"Pt is {'an' if str(p.age)[0] == '8' else 'a'} {p.age} y/o {p.man}"))


def _who_ref(r: random.Random, p: _Patient) -> str:
    return r.choice((f"{p.age}-year-old {p.man}", f"{p.age}{p.sex}"))


def _pmh(r: random.Random, options: tuple[str, ...], k: tuple[int, int] = (1, 3)) -> str:
    chosen = r.sample(options, r.randint(*k))
    return ", ".join(chosen[:-1]) + (" and " if len(chosen) > 1 else "") + chosen[-1]


def _c(r: random.Random, *options: str) -> str:
    return r.choice(options)


def _days(r: random.Random, lo: int = 2, hi: int = 6) -> int:
    return r.randint(lo, hi)


def _details(parts: list, r: random.Random, details: list[str], k: tuple[int, int] = (3, 4),
             at: int = 1) -> None:
    """Insert ``k`` of ``details`` (vitals, exam, labs: true but not key). In a message they
    go at ``at`` in order; in a note the first two (arrival vitals, exam) go right after the
    admission sentence and the others anywhere later in the course."""
    chosen = sorted(r.sample(range(len(details)), r.randint(*k)))
    if not isinstance(parts[0], tuple):
        for offset, i in enumerate(chosen):
            parts.insert(at + offset, details[i])
        return
    early = [i for i in chosen if i < 2]
    for offset, i in enumerate(early):
        parts.insert(1 + offset, ("course", details[i]))
    for i in chosen[len(early):]:
        end = _course_end(parts)
        parts.insert(r.randint(min(2 + len(early), end), end), ("course", details[i]))


def _course_end(parts: list[tuple[str, str]]) -> int:
    return next((j for j, (section, _) in enumerate(parts) if section not in ("hpi", "course")),
                len(parts))


# --- hospital courses ------------------------------------------------------------------------


def _chf(r: random.Random, p: _Patient, variant: str) -> _Case:
    ef = r.choice((20, 25, 30, 35))
    net = r.randint(28, 62) / 10
    w1 = r.randint(720, 1180) / 10
    home = r.choice(("20 mg daily", "40 mg daily"))
    new = r.choice({"20 mg daily": ("40 mg daily", "40 mg BID", "20 mg BID"),
                    "40 mg daily": ("40 mg BID", "80 mg daily", "60 mg daily")}[home])
    htn = r.random() < 0.25
    sbp, dbp = ((r.randint(185, 210), r.randint(95, 115)) if htn else
                (r.randint(128, 172), r.randint(70, 96)))
    trigger, trigger_note = ("uncontrolled hypertension", f"HTN urgency, BP {sbp}/{dbp} on "
                             "arrival") if htn else r.choice((
        ("dietary indiscretion", "dietary indiscretion (holiday meals, canned soup)"),
        ("missed diuretic doses", "running out of furosemide ~1 wk PTA"),
        ("NSAID use", f"ibuprofen {r.choice((400, 600, 800))} mg TID for knee pain x2 wks"),
    ))
    newmed = r.choice(("spironolactone 12.5 mg daily", "spironolactone 25 mg daily",
                       "empagliflozin 10 mg daily", "dapagliflozin 10 mg daily"))
    clinic = r.choice(("HF clinic", "cardiology"))
    fu = r.choice(("1 week", "5 days", "10 days", "2 weeks"))
    pending = r.choice(("iron studies", "TSH", ""))
    who = _who(r, p)
    pmh = _pmh(r, ("HTN", "CKD3a", "DM2", "OSA on CPAP", "CAD s/p PCI 2018", "hypothyroidism"))
    parts = [
        ("hpi", _c(r, f"{who} w/ HFrEF (EF {ef}%), {pmh} p/w {_days(r, 4, 10)}d of progressive "
                      f"DOE, orthopnea and ~{r.randint(3, 6)} kg wt gain.",
                   f"{who} with h/o HFrEF (EF {ef}%), {pmh}, admitted for worsening SOB and "
                   f"bilateral LE edema x{_days(r, 3, 9)} days.")),
        ("course", f"BNP {r.randint(1200, 4800):,}, CXR w/ pulm vascular congestion"
                   f"{_c(r, '', ' and small bilat effusions')}."),
        ("course", f"Precipitant felt to be {trigger_note}."),
        ("course", f"Diuresed w/ IV furosemide {r.choice((40, 60, 80))} mg BID, net -{net} L, "
                   f"wt {w1} -> {round(w1 - net + r.randint(-5, 5) / 10, 1)} kg."),
        ("course", f"Cr {r.randint(11, 16) / 10} -> {r.randint(12, 18) / 10}, stable."),
    ]
    _details(parts, r, [
        f"On arrival BP {sbp}/{dbp}, HR {r.randint(88, 112)}, SpO2 {r.randint(86, 92)}% RA, "
        "placed on 2 L NC.",
        f"Exam: JVD to {_c(r, 'angle of jaw', 'mid-neck')}, bibasilar crackles, "
        f"{r.randint(2, 3)}+ pitting edema to knees.",
        f"Weaned to RA by HD{r.randint(2, 4)}. Tele w/o arrhythmia.",
        f"Na {r.randint(131, 138)}, Mg {r.randint(17, 23) / 10}, Hgb {r.randint(104, 138) / 10}.",
        "Home metoprolol succinate and sacubitril-valsartan continued."])
    ref1 = (f"{_who_ref(r, p)} with HFrEF admitted with acute decompensated heart failure due "
            f"to {trigger}, diuresed with IV furosemide (net -{net} L).")
    facts = [f"acute decompensated heart failure due to {trigger}",
             f"diuresed with IV furosemide (net -{net} L)", f"discharged on furosemide {new}"]
    if variant == "negated_finding":
        parts.insert(3, ("course", _c(r, "Trop flat x2, ECG w/o ischemic changes; ACS ruled out.",
                                      "Troponin 0.02 -> 0.02, no ischemic ECG changes, ACS "
                                      "ruled out.")))
        ref1 = ref1[:-1] + "; ACS ruled out."
        facts.insert(1, "ACS ruled out")
    if variant == "changed_plan":
        drug = r.choice(("spironolactone", "empagliflozin"))
        if drug == "spironolactone":
            newmed = "spironolactone 12.5 mg daily"
            change = ("Started spironolactone 25 mg daily HD2, K rose to "
                      f"{r.randint(54, 59) / 10}, dose decreased to 12.5 mg daily.")
            ref_new = "spironolactone decreased to 12.5 mg daily for hyperkalemia"
        else:
            newmed = "empagliflozin 10 mg daily"
            change = ("Plan was to start dapagliflozin but not covered by insurance, "
                      "empagliflozin 10 mg daily started instead.")
            ref_new = "started empagliflozin 10 mg daily instead of dapagliflozin"
        meds = [("meds", f"Home furosemide {home} changed to {new} PO."), ("meds", change)]
    else:
        meds = [("meds", f"Home furosemide {home} changed to {new} PO."),
                ("meds", f"Started {newmed}; K {r.randint(38, 46) / 10} at d/c.")]
        ref_new = f"started {newmed}"
    parts += meds
    parts.append(("fu", f"Daily weights and 2 g Na diet reviewed w/ pt. F/u {clinic} in {fu} "
                        "w/ BMP."))
    ref3 = f"{clinic} follow-up in {fu} with BMP"
    facts += [ref_new, f"{clinic} follow-up in {fu} with BMP"]
    if pending and len(facts) < 6 and variant != "changed_plan":
        parts.append(("pending", f"{pending} pending at discharge."))
        ref3 += f"; {pending} pending"
        facts.append(f"{pending} pending")
    ref = [ref1, f"Discharged on furosemide {new}; {ref_new}.",
           ref3[0].upper() + ref3[1:] + "."]
    return _Case(parts, ref, facts, avoid=("potassium",))


def _pneumonia(r: random.Random, p: _Patient, variant: str) -> _Case:
    lobe = r.choice(("RLL", "LLL", "RML", "LUL", "RUL"))
    side = "R" if lobe[0] == "R" else "L"
    step = r.choice(("amoxicillin-clavulanate 875 mg BID", "cefpodoxime 200 mg BID",
                     "doxycycline 100 mg BID"))
    days = r.choice((5, 7))
    o2 = r.choice((2, 3, 4, 5))
    fu = r.choice(("1 week", "10 days", "2 weeks"))
    cxr = r.choice((6, 8))
    tmax = r.randint(1012, 1034) / 10
    who = _who(r, p)
    pmh = _pmh(r, ("COPD", "DM2", "HTN", "CKD3", "former smoker (30 pk-yr)", "RA on MTX"))
    parts = [
        ("hpi", f"{who} w/ {pmh} p/w {_days(r)}d of productive cough, fevers to {tmax} and "
                f"pleuritic {side}-sided CP."),
        ("course", f"WBC {r.randint(132, 224) / 10}, lactate {r.randint(12, 31) / 10}; CXR w/ "
                   f"{lobe} consolidation."),
        ("course", f"Started ceftriaxone + azithromycin; required up to {o2} L NC, weaned to RA "
                   f"by HD{r.randint(2, 4)}."),
        ("course", _c(r, "Strep pneumo urine Ag positive, legionella neg.",
                      "Resp viral panel neg.", "Sputum cx w/ normal flora.")),
    ]
    _details(parts, r, [
        f"On arrival T {r.randint(1008, 1030) / 10}, HR {r.randint(98, 124)}, RR "
        f"{r.randint(22, 30)}, SpO2 {r.randint(86, 91)}% RA.",
        f"Exam w/ crackles and egophony at the {side} base.",
        f"Procalcitonin {r.randint(8, 46) / 10}. Flu/COVID PCR neg.",
        "Incentive spirometry and early ambulation encouraged.",
        "Home lisinopril held HD1 for soft BPs, resumed HD2."])
    ref1 = (f"{_who_ref(r, p)} admitted with {lobe} community-acquired pneumonia, treated with "
            f"ceftriaxone and azithromycin and weaned from {o2} L to room air.")
    facts = [f"{lobe} community-acquired pneumonia", "treated with ceftriaxone and azithromycin",
             f"weaned from {o2} L to room air"]
    if variant == "negated_finding":
        parts.insert(3, ("course", f"CTA chest for HR {r.randint(118, 135)}: no PE."))
        ref1 = ref1[:-1] + "; CTA negative for PE."
        facts.append("CTA negative for PE")
    if variant == "changed_plan":
        step = "doxycycline 100 mg BID"
        parts.append(("meds", f"Transitioned to cefpodoxime 200 mg BID on HD{r.randint(2, 3)}, "
                              "developed urticarial rash on trunk that evening -> cefpodoxime "
                              f"stopped, switched to doxycycline 100 mg BID to complete {days} "
                              "days total."))
        ref2 = (f"Cefpodoxime stopped for a rash; discharged on {step} to complete {days} "
                "days.")
        facts += ["cefpodoxime stopped for a rash", f"discharged on {step} to complete {days} days"]
    else:
        parts.append(("meds", f"Transitioned to {step} to complete {days} days total abx."))
        ref2 = f"Discharged on {step} to complete {days} days."
        facts.append(f"discharged on {step} to complete {days} days")
    parts.append(("fu", f"F/u PCP in {fu}; repeat CXR in {cxr} wks to document resolution."))
    ref3 = f"PCP follow-up in {fu} with repeat CXR in {cxr} weeks."
    facts.append(f"repeat CXR in {cxr} weeks")
    if len(facts) < 6:
        facts.append(f"PCP follow-up in {fu}")
    return _Case(parts, [ref1, ref2, ref3], facts)


def _copd(r: random.Random, p: _Patient, variant: str) -> _Case:
    abx, abx_name = r.choice((("azithromycin 250 mg daily", "azithromycin"),
                              ("doxycycline 100 mg BID", "doxycycline")))
    baseline = r.choice(("2 L", "3 L", "room air"))
    inhaler = r.choice(("tiotropium 18 mcg daily", "umeclidinium-vilanterol 1 puff daily"))
    trigger, trigger_note = r.choice((("a viral URI", "RVP + rhinovirus"),
                                      ("a viral URI", "sick contacts at home, RVP + RSV"),
                                      ("running out of inhalers",
                                       "ran out of Spiriva and albuterol 2 wks ago (cost)")))
    fu = r.choice(("2 weeks", "3 weeks", "1 month"))
    who = _who(r, p)
    smoker = r.random() < 0.5
    qtc = variant == "changed_plan" and abx_name == "azithromycin"
    treated = (f"Treated w/ duonebs q4h, prednisone 40 mg daily and {abx}." if not qtc else
               "Treated w/ duonebs q4h and prednisone 40 mg daily; azithromycin started but "
               f"stopped HD2 for QTc {r.randint(505, 530)}, switched to doxycycline 100 mg BID.")
    parts = [
        ("hpi", f"{who} w/ severe COPD (FEV1 {r.randint(28, 45)}% pred"
                f"{', on home O2 ' + baseline if baseline != 'room air' else ', no home O2'}), "
                f"{'active smoker 1 ppd' if smoker else 'quit smoking 2015'}, admitted w/ "
                f"{_days(r, 2, 5)}d of worsening dyspnea, wheeze and increased sputum."),
        ("course", f"Trigger: {trigger_note}. VBG 7.{r.randint(29, 36)}/{r.randint(52, 66)}."),
        ("course", treated),
        ("course", f"O2 req peaked at {r.randint(4, 6)} L NC, back to baseline "
                   f"{baseline} by HD{r.randint(3, 5)}."),
    ]
    if smoker:
        parts.append(("course", "Counseled on cessation, nicotine patch 21 mg/day started."))
    _details(parts, r, [
        f"On arrival RR {r.randint(24, 32)}, SpO2 {r.randint(82, 88)}%, using accessory "
        "muscles.",
        "Diffuse expiratory wheezes, prolonged expiratory phase.",
        "No BiPAP needed.",
        "Inhaler technique reviewed by RT; spacer provided.",
        f"Eos {r.randint(150, 420)} on CBC."])
    ref1 = (f"{_who_ref(r, p)} admitted with a COPD exacerbation triggered by "
            f"{trigger}, treated with nebulizers, prednisone and {abx_name}.")
    facts = [f"COPD exacerbation triggered by {trigger}",
             f"treated with nebulizers, prednisone and {abx_name}",
             f"oxygen back to baseline {baseline}"]
    if variant == "negated_finding":
        parts.insert(2, ("course", _c(r, "CXR hyperinflated, no infiltrate.",
                                      "CXR: no focal consolidation, hyperinflation.")))
        ref1 = ref1[:-1] + "; CXR showed no pneumonia."
        facts.insert(1, "CXR showed no pneumonia")
    ref2 = f"Oxygen back to baseline {baseline}; completes prednisone 40 mg daily for 5 days"
    if qtc:
        ref1 = ref1.replace("prednisone and azithromycin", "prednisone and antibiotics")
        facts[1] = "treated with nebulizers, prednisone and antibiotics"
        ref2 = ("Azithromycin stopped for prolonged QTc, switched to doxycycline 100 mg BID. "
                + ref2)
        facts.append("azithromycin stopped for prolonged QTc")
    elif variant == "changed_plan":
        parts.append(("meds", "Planned prednisone taper changed to a fixed 5-day course given "
                              f"steroid-induced hyperglycemia (BG to {r.randint(31, 38)}0s)."))
        ref2 += " (fixed course, no taper, given hyperglycemia)"
    parts += [("meds", "Prednisone 40 mg daily to complete 5 days total."),
              ("meds", f"Started {inhaler}; continue albuterol PRN."),
              ("fu", f"F/u pulm in {fu}; PFTs as outpatient.")]
    ref2 += f" and started {inhaler}."
    if len(facts) < 6:
        facts.append("prednisone 40 mg daily for 5 days")
    facts.append(f"started {inhaler}")
    if len(facts) < 6:
        facts.append(f"pulmonology follow-up in {fu}")
    ref = [ref1, ref2] + ([f"Pulmonology follow-up in {fu}."] if len(facts) < 7 and
                          f"pulmonology follow-up in {fu}" in facts else [])
    return _Case(parts, ref, facts)


def _afib(r: random.Random, p: _Patient, variant: str) -> _Case:
    pmh = _pmh(r, ("HTN", "DM2", "hyperlipidemia", "obesity", "GERD"), (1, 2))

    def chads_vasc(age: int) -> int:  # no CHF, stroke or vascular disease in these patients
        return ((2 if age >= 75 else 1 if age >= 65 else 0) + (not p.male) + ("HTN" in pmh)
                + ("DM2" in pmh))
    if variant == "changed_plan":  # apixaban dose reduction: age >= 80 and Cr >= 1.5
        p = _Patient(r.randint(80, 90), p.male)
    elif chads_vasc(p.age) < (2 if p.male else 3):  # old enough to need anticoagulation
        p = _Patient(r.randint(75, 89), p.male)
    cha = chads_vasc(p.age)
    rate = r.choice(("metoprolol succinate 50 mg daily", "metoprolol succinate 100 mg daily",
                     "diltiazem ER 180 mg daily"))
    anticoag = r.choice(("apixaban 5 mg BID", "rivaroxaban 20 mg daily"))
    ef = r.choice((50, 55, 60, 65))
    fu = r.choice((1, 2, 3))
    who = _who(r, p)
    parts = [
        ("hpi", f"{who} w/ {pmh} p/w palpitations and lightheadedness x{_days(r, 1, 4)} days, "
                f"found in new-onset AF w/ RVR to {r.randint(13, 17)}0s."),
        ("course", f"Rate controlled w/ IV diltiazem bolus + gtt, transitioned to {rate}."),
        ("course", f"TTE: EF {ef}%, mild LAE, no significant valve disease. TSH "
                   f"{r.randint(8, 31) / 10} (nl)."),
        ("course", "Remained in AF w/ HR 70-90s; plan outpatient DCCV after 3 wks of "
                   "uninterrupted anticoagulation if still in AF."),
    ]
    _details(parts, r, [
        f"On arrival BP {r.randint(104, 152)}/{r.randint(62, 94)}, no chest pain; ECG AF, no "
        "ischemic changes.",
        "Trop neg x2. Lytes nl, Mg repleted to 2.0.",
        "Drinks ~2-3 beers/day, counseled on alcohol as AF trigger.",
        "Sleep study referral placed for suspected OSA (snoring, daytime somnolence).",
        f"Converted to sinus briefly on HD2 then back in AF; HR {r.randint(72, 88)} at rest."])
    ref1 = (f"{_who_ref(r, p)} admitted with new-onset atrial fibrillation with RVR, rate "
            f"controlled on {rate}.")
    facts = ["new-onset atrial fibrillation with RVR", f"rate controlled on {rate}"]
    if variant == "changed_plan":
        cr = r.randint(15, 19) / 10
        parts.insert(2, ("course", f"CHA2DS2-VASc {cha}. Apixaban 5 mg BID started HD1, reduced "
                                   f"to 2.5 mg BID on HD2 given age {p.age} and Cr {cr}."))
        ref2 = (f"Started apixaban, reduced to 2.5 mg BID for age and creatinine; echo showed "
                f"EF {ef}%.")
        facts.append("apixaban reduced to 2.5 mg BID for age and creatinine")
    else:
        parts.insert(2, ("course", f"CHA2DS2-VASc {cha} -> started {anticoag} after discussion "
                                   "of risks/benefits."))
        ref2 = f"Started {anticoag} for CHA2DS2-VASc {cha}; echo showed EF {ef}%."
        facts.append(f"started {anticoag} for CHA2DS2-VASc {cha}")
    if variant == "negated_finding":
        parts.insert(2, ("course", "CTA chest (pleuritic CP, HR 150s) negative for PE."))
        ref1 = ref1[:-1] + "; CTA negative for PE."
        facts.append("CTA negative for PE")
    else:
        facts.append(f"echo showed EF {ef}%")
    parts.append(("fu", f"F/u cardiology in {fu} wk{'s' if fu > 1 else ''}; Zio patch to be "
                        "mailed."))
    week = f"{fu} week{'s' if fu > 1 else ''}"
    ref3 = (f"Cardiology follow-up in {week}; cardioversion after 3 weeks of "
            "anticoagulation.")
    facts += [f"cardiology follow-up in {week}", "cardioversion after 3 weeks of anticoagulation"]
    return _Case(parts, [ref1, ref2, ref3], facts[:6])


def _dka(r: random.Random, p: _Patient, variant: str) -> _Case:
    p = _Patient(r.randint(19, 58), p.male)
    ph = f"7.{r.randint(5, 24):02d}"
    glargine = r.randint(16, 30)
    lispro = r.randint(4, 8)
    a1c = r.randint(95, 134) / 10
    hours = r.randint(10, 22)
    fu = r.choice(("1 week", "2 weeks"))
    trigger, trigger_note = r.choice((
        ("missed insulin doses", "running out of insulin 3 days ago (insurance lapse)"),
        ("gastroenteritis", "2 days of N/V/diarrhea, insulin held d/t poor PO intake"),
        ("missed insulin doses", "skipping glargine for several days ('forgot')")))
    who = _who(r, p)
    parts = [
        ("hpi", f"{who} w/ T1DM since age {r.randint(8, 16)} admitted in DKA after "
                f"{trigger_note}: BG {r.randint(420, 690)}, AG {r.randint(22, 33)}, pH {ph}, "
                f"BHB {r.randint(45, 92) / 10}."),
        ("course", f"Started insulin gtt + IVF per DKA protocol w/ K repletion; AG closed in "
                   f"{hours} hrs."),
        ("course", f"A1c {a1c}%. Seen by diabetes educator, pump candidacy to be discussed "
                   "as outpatient."),
    ]
    _details(parts, r, [
        f"On arrival HR {r.randint(108, 132)}, RR {r.randint(24, 32)} (Kussmaul), BP "
        f"{r.randint(96, 124)}/{r.randint(58, 78)}, dry mucous membranes.",
        f"K {r.randint(52, 61) / 10} on arrival, phos {r.randint(12, 19) / 10} repleted.",
        "Received 4 L LR over the first 12 hrs.",
        "Insulin pen technique and sick-day rules reviewed w/ pt.",
        "Urine tox neg; TSH nl."])
    ref1 = (f"{_who_ref(r, p)} with type 1 diabetes admitted in DKA (pH {ph}) after {trigger}, "
            f"treated with an insulin drip; gap closed in {hours} hours.")
    facts = [f"DKA (pH {ph}) after {trigger}", "treated with an insulin drip"]
    if variant == "negated_finding":
        parts.insert(2, ("course", f"Lipase {r.randint(20, 60)} (nl), no pancreatitis; "
                                   "CXR/UA w/o infection."))
        ref1 = ref1[:-1] + "; no pancreatitis."
        facts.append("no pancreatitis")
    if variant == "changed_plan":
        parts.append(("meds", f"Transitioned to SC glargine {glargine + 4} units qHS, reduced to "
                              f"{glargine} units after fasting BG {r.randint(52, 66)} on HD3; "
                              f"lispro {lispro} units TID w/ meals + correction scale."))
        ref2 = (f"Glargine reduced to {glargine} units nightly after hypoglycemia; lispro "
                f"{lispro} units with meals; A1c {a1c}%.")
        facts.append(f"glargine reduced to {glargine} units nightly after hypoglycemia")
    else:
        parts.append(("meds", f"Transitioned to SC insulin: glargine {glargine} units qHS + "
                              f"lispro {lispro} units TID w/ meals plus correction scale."))
        ref2 = (f"Discharged on glargine {glargine} units nightly and lispro {lispro} units with "
                f"meals; A1c {a1c}%.")
        facts.append(f"glargine {glargine} units nightly")
    facts.append(f"lispro {lispro} units with meals")
    if len(facts) < 5:
        facts.append(f"A1c {a1c}%")
    parts.append(("fu", f"F/u endocrine in {fu}; new glucometer/strips sent to pharmacy."))
    facts.append(f"endocrinology follow-up in {fu}")
    return _Case(parts, [ref1, ref2, f"Endocrinology follow-up in {fu}."], facts,
                 avoid=("potassium",))


def _gi_bleed(r: random.Random, p: _Patient, variant: str) -> _Case:
    low = r.randint(61, 74) / 10
    units = r.randint(1, 3)
    size = r.choice(("1", "1.5", "2"))
    loc = r.choice(("gastric antral", "duodenal bulb", "gastric body"))
    nsaid, why = r.choice((("ibuprofen", "back pain"), ("naproxen", "knee OA"),
                           ("ibuprofen", "headaches")))
    who = _who(r, p)
    clean = variant == "negated_finding"
    finding = ("clean base, no high-risk stigmata, no intervention" if clean else
               r.choice(("visible vessel, treated w/ epi + 2 clips",
                         "adherent clot, removed, bipolar cautery + clip")))
    parts = [
        ("hpi", f"{who} taking OTC {nsaid} daily for {why} p/w {_days(r, 1, 4)}d of melena "
                f"and lightheadedness; Hgb {low} (baseline ~{r.randint(115, 135) / 10}), BUN "
                f"{r.randint(38, 72)}."),
        ("course", f"Transfused {units} unit{'s' if units > 1 else ''} PRBC, IV pantoprazole "
                   "gtt."),
        ("course", f"EGD HD1: {size} cm {loc} ulcer w/ {finding}."),
        ("course", f"No further melena, HD stable; Hgb {r.randint(84, 99) / 10} on day of d/c."),
        ("meds", f"{nsaid.capitalize()} stopped, avoid all NSAIDs. Pantoprazole 40 mg BID x 8 "
                 "wks then daily."),
        ("pending", "H. pylori biopsies pending."),
        ("fu", "F/u PCP 1 wk w/ CBC; GI clinic to call re: repeat EGD."),
    ]
    _details(parts, r, [
        f"On arrival HR {r.randint(102, 124)}, BP {r.randint(88, 108)}/{r.randint(50, 66)}, "
        "orthostatic.",
        "Rectal exam w/ black tarry stool; 2 large-bore IVs, type and cross.",
        f"INR {r.randint(10, 12) / 10}, plt {r.randint(160, 340)}K.",
        "GI consulted, EGD within 24 hrs.",
        "Diet advanced after EGD, tolerated."])
    unit_text = f"{units} unit{'s' if units > 1 else ''}"
    ulcer = (f"a {size} cm {loc} ulcer without high-risk stigmata" if clean else
             f"a {size} cm {loc} ulcer treated endoscopically")
    ref1 = (f"{_who_ref(r, p)} admitted with an upper GI bleed from {ulcer} ({nsaid} use); "
            f"transfused {unit_text} PRBC for Hgb {low}.")
    facts = [f"{size} cm {loc} ulcer" + (" without high-risk stigmata" if clean else ""),
             f"transfused {unit_text} PRBC for Hgb {low}"]
    if variant == "changed_plan":
        parts.insert(4, ("meds", "Home aspirin 81 mg held on admission, resumed HD3 per "
                                 f"cardiology (DES {r.randint(2019, 2023)})."))
        ref2 = (f"{nsaid.capitalize()} stopped and aspirin 81 mg resumed per cardiology; "
                "pantoprazole 40 mg BID for 8 weeks.")
        facts += [f"{nsaid} stopped", "aspirin 81 mg resumed per cardiology"]
    else:
        ref2 = f"{nsaid.capitalize()} stopped; discharged on pantoprazole 40 mg BID for 8 weeks."
        facts.append(f"{nsaid} stopped")
    facts.append("pantoprazole 40 mg BID for 8 weeks")
    facts.append("H. pylori biopsies pending")
    ref3 = "H. pylori biopsies pending."
    if len(facts) < 6:
        facts.append("CBC with PCP in 1 week")
        ref3 = "H. pylori biopsies pending; CBC with PCP in 1 week."
    return _Case(parts, [ref1, ref2, ref3], facts, avoid=("anemia",))


def _cellulitis(r: random.Random, p: _Patient, variant: str) -> _Case:
    side = r.choice(("left", "right"))
    oral, days = r.choice((("cephalexin 500 mg QID", 7), ("cephalexin 500 mg QID", 10),
                           ("dicloxacillin 500 mg QID", 7)))
    n = r.choice((2, 3, 5))
    cause = r.choice(("a scrape from gardening", "a dog scratch", "a blister from new shoes", ""))
    after = f" after {cause}" if cause else ""
    who = _who(r, p)
    pmh = _pmh(r, ("DM2", "obesity", "chronic venous stasis", "lymphedema", "HTN"), (1, 2))
    parts = [
        ("hpi", f"{who} w/ {pmh} p/w {_days(r)}d of {side[0].upper()} lower leg erythema, "
                f"warmth and swelling{after or ' w/o clear skin break'}; Tmax "
                f"{r.randint(1003, 1027) / 10}."),
        ("course", f"WBC {r.randint(110, 176) / 10}. Borders marked on arrival. Started IV "
                   f"cefazolin w/ improvement, erythema receding by HD{r.randint(2, 3)}."),
        ("course", "Interdigital tinea noted, clotrimazole cream started; leg elevation."),
    ]
    _details(parts, r, [
        f"On arrival T {r.randint(1001, 1026) / 10}, HR {r.randint(92, 112)}, BP nl.",
        f"Erythema ~{r.randint(8, 16)} x {r.randint(6, 12)} cm over anterior shin, no "
        "fluctuance or crepitus.",
        "Blood cx NGTD.",
        f"A1c {r.randint(68, 94) / 10}%; home metformin continued." if "DM2" in pmh else
        "Tetanus booster given.",
        "Pain controlled w/ acetaminophen."])
    ref1 = (f"{_who_ref(r, p)} with {pmh} admitted with {side} lower extremity cellulitis"
            f"{after}, improved on IV cefazolin.")
    facts = [f"{side} lower extremity cellulitis", "improved on IV cefazolin"]
    if variant == "negated_finding":
        parts.insert(2, ("course", f"{side[0].upper()} LE US: no abscess. Duplex negative for "
                                   "DVT."))
        ref1 = ref1.replace(after, "")[:-1] + ("; no abscess on ultrasound and duplex negative "
                                               "for DVT.")
        facts += ["no abscess on ultrasound", "duplex negative for DVT"]
    if variant == "changed_plan":
        oral, days = "doxycycline 100 mg BID", 10
        parts.append(("meds", "Planned transition to cephalexin, but wound cx from draining "
                              "blister grew MRSA -> switched to doxycycline 100 mg BID to "
                              "complete 10 days total."))
        ref2 = "Wound culture grew MRSA, so discharged on doxycycline 100 mg BID for 10 days."
        facts.append("discharged on doxycycline 100 mg BID for 10 days")
    else:
        parts.append(("meds", f"Transitioned to {oral} to complete {days} days total."))
        ref2 = f"Discharged on {oral} to complete {days} days; clotrimazole for tinea pedis."
        facts.append(f"discharged on {oral} to complete {days} days")
        if len(facts) < 5:
            facts.append("clotrimazole for tinea pedis")
    parts.append(("fu", f"F/u PCP in {n} days for wound check; return if spreading "
                        "redness/fever."))
    facts.append(f"PCP follow-up in {n} days")
    ref3 = f"PCP follow-up in {n} days for a wound check."
    return _Case(parts, [ref1, ref2, ref3], facts)


def _aki(r: random.Random, p: _Patient, variant: str) -> _Case:
    base = r.randint(8, 12) / 10
    peak = r.randint(22, 34) / 10
    final = r.randint(11, 16) / 10
    n = r.choice((2, 3, 5))
    cause, cause_note = r.choice((
        ("diarrhea and poor oral intake", "diarrhea (norovirus at home), poor PO intake"),
        ("vomiting and poor oral intake", "N/V after a viral illness, minimal PO intake"),
        ("poor oral intake during a heat wave", "poor PO intake + heat, working outdoors")))
    who = _who(r, p)
    parts = [
        ("hpi", f"{who} w/ HTN, DM2 on lisinopril, HCTZ and metformin p/w {_days(r)}d of "
                f"{cause_note} and dizziness; Cr {peak} (baseline {base}), BUN "
                f"{r.randint(48, 86)}, K {r.randint(48, 56) / 10}."),
        ("course", f"UA bland, FeNa {r.randint(2, 9) / 10}% c/w prerenal."),
        ("course", f"Lisinopril, HCTZ and metformin held; IVF ({r.randint(2, 4)} L LR) w/ Cr "
                   f"improving daily to {final} at discharge."),
    ]
    sbp = r.randint(104, 128)
    _details(parts, r, [
        f"Orthostatic on arrival (SBP {sbp} -> {sbp - r.randint(20, 30)} standing).",
        "Dry mucous membranes, no edema.",
        f"Bicarb {r.randint(17, 21)}, improved w/ fluids.",
        "Urine output >1 L/day by HD2.",
        "Stool C. diff neg, diarrhea resolved by HD2." if "diarrhea" in cause else
        "Antiemetics PRN, tolerating PO by HD2."])
    ref1 = (f"{_who_ref(r, p)} with hypertension and diabetes admitted with prerenal AKI (Cr "
            f"{peak}, baseline {base}) from {cause}, treated with IV fluids; Cr {final} at "
            "discharge.")
    facts = [f"prerenal AKI (Cr {peak}, baseline {base})", "treated with IV fluids",
             f"Cr {final} at discharge"]
    if variant == "negated_finding":
        parts.insert(2, ("course", "Renal US: no hydronephrosis."))
        ref1 = ref1.replace(", treated with", " (no hydronephrosis on renal ultrasound), treated "
                                          "with")
        facts.insert(1, "no hydronephrosis on renal ultrasound")
    if variant == "changed_plan":
        parts.append(("meds", "Metformin resumed at 500 mg BID (reduced from 1000 mg BID) for "
                              f"eGFR {r.randint(34, 44)}; lisinopril and HCTZ held until PCP "
                              "visit."))
        ref2 = ("Lisinopril and hydrochlorothiazide held until PCP review; metformin resumed at "
                "a reduced 500 mg BID.")
        facts.append("metformin resumed at a reduced 500 mg BID")
    else:
        parts.append(("meds", "Metformin resumed at discharge; lisinopril and HCTZ held until "
                              "PCP visit."))
        ref2 = "Lisinopril and hydrochlorothiazide held until PCP review; metformin resumed."
    facts.append("lisinopril and hydrochlorothiazide held")
    parts.append(("fu", f"Repeat BMP in {n} days; PCP 1 wk to decide on restarting "
                        "lisinopril/HCTZ."))
    facts.append(f"repeat BMP in {n} days")
    return _Case(parts, [ref1, ref2, f"Repeat BMP in {n} days."], facts[:6],
                 avoid=("potassium",))


def _hip_fracture(r: random.Random, p: _Patient, variant: str) -> _Case:
    p = _Patient(r.randint(68, 94), p.male)
    side = r.choice(("left", "right"))
    fx, proc = r.choice((("intertrochanteric", "IM nail"),
                         ("femoral neck", "hemiarthroplasty"),
                         ("femoral neck", "total hip arthroplasty")))
    weeks = r.choice((4, 5))
    dispo = r.choice(("SNF", "acute rehab", "home with home PT"))
    who = _who(r, p)
    pmh = _pmh(r, ("HTN", "osteoporosis", "mild dementia", "CKD3", "CAD", "COPD"), (1, 2))
    s = side[0].upper()
    how = r.choice(("tripped on a rug", "slipped in bathroom", "missed a step"))
    parts = [
        ("hpi", f"{who} w/ {pmh} s/p mechanical fall at home ({how}), {s} hip pain, unable "
                f"to bear weight; XR {s} {fx} fx."),
        ("course", f"Ortho: {s} {proc} on HD{r.randint(1, 2)}, uncomplicated."),
        ("course", f"Post-op Hgb nadir {r.randint(79, 95) / 10}, no transfusion. Pain controlled "
                   "w/ scheduled APAP + oxycodone 5 mg q6h PRN."),
        ("course", "PT: WBAT, ambulating 50 ft w/ walker."),
    ]
    _details(parts, r, [
        f"On arrival HR {r.randint(78, 104)}, BP {r.randint(128, 168)}/{r.randint(62, 88)}, "
        "no LOC.",
        f"{s} leg shortened and externally rotated.",
        "Medicine co-managed; pre-op ECG NSR.",
        "Bowel regimen w/ senna/docusate.",
        "Foley removed POD1, voiding."])
    ref1 = (f"{_who_ref(r, p)} with {pmh} admitted with a {side} {fx} hip fracture after a "
            "mechanical fall, "
            f"status post {proc}.")
    facts = [f"{side} {fx} hip fracture after a mechanical fall", f"status post {proc}"]
    if variant == "negated_finding":
        parts.insert(1, ("course", "Head strike, CT head negative for bleed."))
        ref1 = ref1[:-1] + "; CT head negative for bleed."
        facts.append("CT head negative for bleed")
    ref2 = f"Weight bearing as tolerated; enoxaparin 40 mg daily for {weeks} weeks."
    parts.append(("meds", f"DVT ppx: enoxaparin 40 mg SC daily x {weeks} wks."))
    facts.append(f"enoxaparin 40 mg daily for {weeks} weeks")
    if variant == "changed_plan":
        dispo = "SNF"
        parts.append(("dispo", "Initially planned d/c home w/ daughter, but PT recommended SNF "
                               "given poor progress; d/c to SNF."))
        ref3 = "Discharged to SNF on PT recommendation; ortho follow-up in 2 weeks."
        facts.append("discharged to SNF on PT recommendation")
    else:
        parts.append(("dispo", f"D/c to {dispo}."))
        ref3 = f"Discharged to {dispo}; ortho follow-up in 2 weeks for staple removal."
        facts.append(f"discharged to {dispo}")
    parts.append(("fu", "F/u ortho 2 wks for staple removal; vit D level pending, outpatient "
                        "DEXA."))
    if len(facts) < 6:
        facts.append("ortho follow-up in 2 weeks")
    if len(facts) < 6:
        facts.append("weight bearing as tolerated")
    return _Case(parts, [ref1, ref2, ref3], facts, avoid=("anemia",))


def _pyelo(r: random.Random, p: _Patient, variant: str) -> _Case:
    side = r.choice(("left", "right"))
    oral, days = r.choice((("ciprofloxacin 500 mg BID", 7), ("cefpodoxime 200 mg BID", 10),
                           ("TMP-SMX DS 1 tab BID", 14)))
    who = _who(r, p)
    pmh = _pmh(r, ("DM2", "recurrent UTIs", "nephrolithiasis", "HTN", "BPH"), (1, 2))
    parts = [
        ("hpi", f"{who} w/ {pmh} p/w {_days(r, 2, 4)}d of dysuria, {side[0].upper()} flank "
                f"pain, fevers to {r.randint(1018, 1036) / 10} and N/V."),
        ("course", f"UA: +LE, +nitrite, >50 WBC. Lactate {r.randint(14, 29) / 10}. Started IV "
                   "ceftriaxone, afebrile after 48 hrs."),
        ("course", "Urine cx: E. coli >100K."),
        ("course", "Blood cx x2 NGTD."),
    ]
    _details(parts, r, [
        f"On arrival T {r.randint(1012, 1036) / 10}, HR {r.randint(98, 124)}, BP "
        f"{r.randint(98, 132)}/{r.randint(58, 80)}, {side[0].upper()} CVA tenderness.",
        f"WBC {r.randint(128, 214) / 10}, Cr {r.randint(8, 12) / 10} (baseline).",
        "Received 2 L LR.",
        "Ondansetron PRN for nausea, tolerating PO by HD2."])
    ref1 = (f"{_who_ref(r, p)} with {pmh} admitted with {side}-sided pyelonephritis, E. coli "
            "on urine culture, treated with IV ceftriaxone.")
    facts = [f"{side}-sided pyelonephritis", "E. coli on urine culture",
             "treated with IV ceftriaxone"]
    if variant == "negated_finding":
        parts.insert(2, ("course", "Renal US: no hydronephrosis or abscess."))
        ref1 = ref1[:-1] + "; no hydronephrosis on renal ultrasound."
        facts.append("no hydronephrosis on renal ultrasound")
    if variant == "changed_plan":
        oral, days = "cefpodoxime 200 mg BID", 10
        parts.append(("meds", "Discharge planned on cipro, but final sensitivities showed "
                              "cipro resistance -> switched to cefpodoxime 200 mg BID to "
                              "complete 10 days."))
        ref2 = ("Switched to cefpodoxime 200 mg BID for ciprofloxacin-resistant E. coli to "
                "complete 10 days.")
        facts.append("cefpodoxime 200 mg BID for ciprofloxacin-resistant E. coli")
    else:
        parts.append(("meds", f"Urine cx pan-sensitive; transitioned to {oral} to complete "
                              f"{days} days total."))
        ref2 = f"Discharged on {oral} to complete {days} days."
        facts.append(f"discharged on {oral} to complete {days} days")
    fu = r.choice(("1 week", "10 days"))
    parts.append(("fu", f"F/u PCP in {fu}; return for fever >101 or unable to tolerate PO."))
    facts.append(f"PCP follow-up in {fu}")
    ref3 = f"Blood cultures negative; PCP follow-up in {fu}."
    return _Case(parts, [ref1, ref2, ref3], facts)


def _tia(r: random.Random, p: _Patient, variant: str) -> _Case:
    side = r.choice(("left", "right"))
    opp = "right" if side == "left" else "left"
    sten = r.choice((70, 75, 80, 90))
    who = _who(r, p)
    minutes = r.choice((15, 20, 30, 40, 45))
    parts = [
        ("hpi", f"{who} w/ HTN, HLD, {_c(r, 'active smoker', 'former smoker', 'DM2')} p/w "
                f"{minutes} min episode of {side[0].upper()} arm weakness and slurred speech, "
                "resolved by ED arrival; NIHSS 0."),
        ("course", "CT head neg. MRI brain: no acute infarct."),
        ("course", f"CTA head/neck: {opp[0].upper()} ICA {sten}% stenosis. LDL "
                   f"{r.randint(118, 176)}, A1c {r.randint(55, 68) / 10}%."),
        ("course", f"Vascular surgery consulted, {opp[0].upper()} CEA planned as outpatient "
                   "within 2 wks."),
    ]
    _details(parts, r, [
        f"On arrival BP {r.randint(158, 196)}/{r.randint(84, 104)}, glucose "
        f"{r.randint(96, 168)}.",
        "Exam nonfocal on arrival.",
        "Permissive HTN x24h, then home amlodipine resumed.",
        "Passed bedside swallow screen.",
        "PT/OT: no needs."])
    ref1 = (f"{_who_ref(r, p)} admitted with TIA ({side} arm weakness and dysarthria); MRI "
            "showed no acute infarct.")
    facts = [f"TIA ({side} arm weakness and dysarthria)", "MRI showed no acute infarct",
             f"{opp} ICA {sten}% stenosis", f"{opp} CEA planned"]
    if variant == "negated_finding":
        parts.insert(3, ("course", "Tele x48h: NSR, no AF."))
        ref1 = ref1[:-1] + " and telemetry showed no AF."
        facts.append("telemetry showed no AF")
    ref2 = f"CTA showed {opp} ICA {sten}% stenosis; {opp} CEA planned."
    if variant == "changed_plan":
        statin = "home pravastatin 20 mg switched to atorvastatin 80 mg"
        parts.append(("meds", "Started aspirin 81 mg + clopidogrel 75 mg daily x21 days, then "
                              "aspirin alone; home pravastatin 20 mg switched to atorvastatin "
                              "80 mg qHS."))
        ref3 = ("Started aspirin 81 mg plus clopidogrel 75 mg for 21 days; "
                f"{statin}.")
        facts.append(statin)
    else:
        parts.append(("meds", "Started aspirin 81 mg + clopidogrel 75 mg daily x21 days, then "
                              "aspirin alone; atorvastatin 80 mg qHS."))
        ref3 = "Started aspirin 81 mg plus clopidogrel 75 mg for 21 days and atorvastatin 80 mg."
        facts.append("aspirin 81 mg plus clopidogrel 75 mg for 21 days")
    parts.append(("fu", "F/u neurology 4 wks; 30-day event monitor to be mailed."))
    return _Case(parts, [ref1, ref2, ref3], facts[:6], avoid=("atorvastatin",))


# --- patient messages ------------------------------------------------------------------------

_PHARMACIES = ("the CVS on Main St", "Walgreens on 5th", "the Costco pharmacy",
               "the Walmart on Route 9", "Rite Aid")
_OPEN = ("Hi Dr. {doc},", "Hello,", "Hi,", "Good morning,", "Dear Dr. {doc},", "")
_CLOSE = ("Thank you!", "Thanks so much.", "Thanks, {name}", "- {name}", "Appreciate it.",
          "Please let me know.")
_DOCS = ("Patel", "Nguyen", "Okafor", "Schmidt", "Rivera", "Kim")
_NAMES = ("Maria", "Linda", "James", "Robert", "Keisha", "Tom", "Priya", "Greg", "Dolores", "Raj")


def _frame(r: random.Random, body: list[str]) -> list[tuple[str, str]]:
    opener = r.choice(_OPEN).format(doc=r.choice(_DOCS))
    closer = r.choice(_CLOSE).format(name=r.choice(_NAMES))
    return ([("open", opener)] if opener else []) + [("body", b) for b in body] + [
        ("close", closer)]


def _msg_hf(r: random.Random, p: _Patient, variant: str) -> _Case:
    days = r.randint(2, 6)
    w1 = r.randint(168, 232)
    w2 = w1 + r.randint(3, 6)
    dose = r.choice(("40 mg BID", "40 mg daily", "20 mg BID"))
    pharmacy = r.choice(_PHARMACIES)
    body = [
        f"I got home from the hospital {days} days ago (heart failure).",
        f"My weight was {w1} lb when I left and this morning it's {w2}, same scale.",
        _c(r, "My ankles are puffy again and I needed 2 pillows last night to breathe ok.",
           "Ankles are swollen again and I had to sleep propped up on pillows last night."),
    ]
    _details(body, r, [
        "I've been following the low salt diet pretty well.",
        "I weigh myself every morning after the bathroom like the nurse showed me.",
        "My daughter set up my pill box so I don't mix them up.",
        "Walking to the mailbox makes me winded.",
        "I don't think I've been eating anything salty."], (2, 3), at=len(body))
    dose_words = dose.replace("BID", "twice a day").replace("daily", "once a day")
    ref1 = f"Pt discharged {days} days ago after a heart failure admission reports weight gain "
    ref1 += f"from {w1} to {w2} lb with worse ankle swelling and orthopnea"
    facts = [f"weight gain from {w1} to {w2} lb", "worse ankle swelling and orthopnea"]
    if variant == "changed_plan":
        body.append("They told me furosemide 40 twice a day at discharge but the pharmacy label "
                    "says once a day, so that's what I've been taking.")
        ref1 += ", taking furosemide 40 mg daily instead of the prescribed 40 mg BID."
        facts.append("taking furosemide 40 mg daily instead of the prescribed 40 mg BID")
    else:
        body.append(f"I'm taking the furosemide {dose_words} like they said, haven't missed "
                    "any.")
        ref1 += f" on furosemide {dose}."
        facts.append(f"on furosemide {dose}")
    ref = [ref1]
    if variant == "negated_finding":
        body.append(_c(r, "No chest pain and I'm not short of breath sitting down.",
                       "No chest pain, no trouble breathing at rest."))
        ref.append("Denies chest pain or dyspnea at rest.")
        facts.append("denies chest pain or dyspnea at rest")
    body += [_c(r, "Should I take an extra water pill today?",
                "Do I take an extra dose of the water pill?"),
             f"Also almost out of my metoprolol, can you send a refill to {pharmacy}?"]
    ref.append("Asks whether to take an extra diuretic dose and requests a metoprolol refill.")
    facts += ["asks whether to take an extra diuretic dose", "requests a metoprolol refill"]
    return _Case(_frame(r, body), ref, facts, message=True)


def _msg_glucose(r: random.Random, p: _Patient, variant: str) -> _Case:
    lo = r.randint(19, 25) * 10
    hi = lo + r.randint(3, 8) * 10
    glargine = r.randint(16, 34)
    sema, weeks = r.choice(("0.25", "0.5")), r.randint(2, 5)
    body = [f"My fasting sugars have been running {lo}-{hi} all week."]
    if variant == "changed_plan":
        body.append(f"Dr. {r.choice(_DOCS)} raised my Lantus from {glargine - 4} to {glargine} "
                    "units at bedtime last week and I haven't missed any.")
        ref1 = (f"Pt reports fasting glucose {lo}-{hi} all week on glargine "
                f"increased to {glargine} units nightly last week, with no hypoglycemia.")
        facts = [f"fasting glucose {lo}-{hi}", f"glargine increased to {glargine} units nightly"]
    else:
        body.append(f"I take Lantus {glargine} units at bedtime and haven't missed any.")
        ref1 = (f"Pt reports fasting glucose {lo}-{hi} all week on glargine "
                f"{glargine} units nightly, with no hypoglycemia.")
        facts = [f"fasting glucose {lo}-{hi}", f"glargine {glargine} units nightly"]
    _details(body, r, [
        "I check every morning before breakfast.",
        "I've been trying to cut back on soda.",
        "I walk about 20 minutes most days.",
        "My feet have been fine, I check them every night.",
        "Work has been stressful lately."], (2, 3), at=len(body))
    body.append(_c(r, "No lows.", "No low sugars at all.", "Haven't had any lows."))
    facts.append("no hypoglycemia")
    body.append(f"I started the Ozempic {sema} mg {weeks} weeks ago and it makes me a little "
                "queasy but I'm eating ok.")
    ref2 = f"Started semaglutide {sema} mg {weeks} weeks ago with mild nausea but eating normally"
    facts.append(f"started semaglutide {sema} mg {weeks} weeks ago")
    if variant == "negated_finding":
        body.append("No throwing up and no belly pain.")
        ref2 += ", no vomiting or abdominal pain"
        facts.append("no vomiting or abdominal pain")
    body += [_c(r, "Should I go up on the Lantus?", "Do I need more Lantus?"),
             f"Also running low on test strips (OneTouch Verio), please send to "
             f"{r.choice(_PHARMACIES)}."]
    ref = [ref1, ref2 + ".", "Asks whether to increase glargine and requests test strips."]
    facts.append("asks whether to increase glargine")
    if len(facts) < 6:
        facts.append("requests test strips")
    return _Case(_frame(r, body), ref, facts, message=True)


def _msg_postop(r: random.Random, p: _Patient, variant: str) -> _Case:
    surgery, site, plain = r.choice((("cholecystectomy", "umbilical", "gallbladder out"),
                                     ("appendectomy", "umbilical", "appendix out"),
                                     ("inguinal hernia repair", "groin", "hernia repaired")))
    n = r.randint(4, 9)
    temp = r.randint(1002, 1014) / 10
    where = "at my belly button" if site == "umbilical" else "in my groin"
    body = [f"I had my {plain} {n} days ago.",
            f"Since yesterday the incision {where} is red and warm and there's yellowish "
            "drainage on the bandage.",
            f"Temp last night was {temp}."]
    ref1 = (f"Pt {n} days after {surgery} reports redness, warmth and yellow drainage at the "
            f"{site} incision since yesterday with a temperature of {temp}.")
    facts = [f"{n} days after {surgery}",
             f"redness, warmth and yellow drainage at the {site} incision",
             f"temperature of {temp}"]
    ref2 = "Pain controlled with acetaminophen"
    _details(body, r, [
        "The surgery itself went fine and I went home the same day.",
        "I've been changing the bandage once a day like they showed me.",
        "I've been walking around the house ok.",
        f"I have my post-op visit with the surgeon on the {r.randint(12, 28)}th.",
        "My wife says it looks worse than yesterday."], (2, 3), at=len(body))
    body.append("Pain is ok with Tylenol, I stopped the oxycodone on day 2.")
    facts.append("pain controlled with acetaminophen")
    if variant == "negated_finding":
        body.append("I'm eating fine, no vomiting.")
        ref2 += "; no vomiting"
        facts.append("no vomiting")
    if variant == "changed_plan":
        body.append("The surgeon's office called in Keflex yesterday after I called the "
                    "nurse line, I've taken 2 doses so far.")
        ref2 += "; cephalexin started yesterday by the surgeon's office"
        facts.append("cephalexin started yesterday by the surgeon's office")
    body.append(_c(r, "Is this infected?", "Does this look like an infection?",
                   "Should I be worried?"))
    body.append("Also my work wants a note for when I can go back, I do warehouse lifting.")
    ref = [ref1, ref2 + ".", "Asks whether it is infected and requests a work note for return "
           "to a lifting job."]
    facts.append("requests a work note")
    return _Case(_frame(r, body), ref, facts[:6], message=True)


def _msg_inr(r: random.Random, p: _Patient, variant: str) -> _Case:
    dose = r.choice(("5", "7.5", "2.5"))
    indication = r.choice(("afib", "a mechanical valve", "a DVT"))
    inr = r.randint(38, 52) / 10
    minutes = r.choice((15, 20, 30))
    day = r.choice(("Thursday", "Monday", "Friday"))
    body = [f"I'm on warfarin {dose} mg a day for {indication}.",
            f"My INR at the clinic yesterday was {inr}."]
    _details(body, r, [
        "I eat about the same amount of salad as always.",
        "I haven't missed or doubled any doses.",
        "I get my INR checked at the clinic every 2 weeks.",
        "I live alone but my son checks on me."], (2, 3), at=len(body))
    ref1 = f"Pt on warfarin {dose} mg daily for {indication} reports INR {inr} yesterday"
    facts = [f"warfarin {dose} mg daily for {indication}", f"INR {inr}"]
    if variant == "changed_plan":
        lower = {"5": "4", "7.5": "6", "2.5": "2"}[dose]
        body.append("The anticoag nurse first said keep the same dose, then called back and "
                    f"said skip tonight and then take {lower} mg a day until the recheck.")
        ref1 += (f"; anticoagulation clinic advised skipping tonight's dose, then {lower} mg "
                 "daily.")
        facts.append(f"skip tonight's dose, then {lower} mg daily")
    else:
        body.append(f"I had a nosebleed Sunday that lasted about {minutes} minutes, it stopped "
                    "when I pinched my nose.")
        ref1 += f" and a {minutes}-minute nosebleed on Sunday controlled with pressure."
        facts.append(f"{minutes}-minute nosebleed controlled with pressure")
    ref = [ref1]
    if variant == "negated_finding":
        body.append("No blood in my urine or stool that I can see.")
        ref.append("No blood in urine or stool.")
        facts.append("no blood in urine or stool")
    body += ["The dentist started me on amoxicillin on Friday for a bad tooth.",
             f"I'm supposed to get it pulled next {day}, do I need to stop the warfarin "
             "before?"]
    ref.append(f"Started amoxicillin from the dentist on Friday; asks whether to hold warfarin "
               f"before a tooth extraction next {day}.")
    facts += ["started amoxicillin from the dentist", "asks whether to hold warfarin before a "
              "tooth extraction"]
    return _Case(_frame(r, body), ref, facts[:6], message=True)


# Scenario name -> builder; messages are the ``msg_`` ones.
SCENARIOS: dict[str, Callable[[random.Random, _Patient, str], _Case]] = {
    "heart_failure": _chf, "pneumonia": _pneumonia, "copd": _copd, "afib": _afib, "dka": _dka,
    "gi_bleed": _gi_bleed, "cellulitis": _cellulitis, "aki": _aki, "hip_fracture": _hip_fracture,
    "pyelonephritis": _pyelo, "tia": _tia,
    "msg_heart_failure": _msg_hf, "msg_glucose": _msg_glucose, "msg_postop": _msg_postop,
    "msg_warfarin": _msg_inr,
}
NOTE_SCENARIOS = tuple(s for s in SCENARIOS if not s.startswith("msg_"))
MESSAGE_SCENARIOS = tuple(s for s in SCENARIOS if s.startswith("msg_"))

# Irrelevant details (tag, text): never part of a reference.
NOTE_DISTRACTORS = (
    ("anemia", "Chronic normocytic anemia, Hgb {hgb} (at baseline)."),
    ("", "Incidental {mm} mm RUL nodule on prior CT ({year}), stable, no further f/u needed."),
    ("potassium", "Mild hypokalemia (K 3.{k}) repleted."),
    ("atorvastatin", "Home atorvastatin 40 mg and levothyroxine {lt} mcg continued unchanged."),
    ("", "Seen by nutrition; tolerating regular diet."),
    ("", "Remote h/o appendectomy ({year})."),
    ("", "Flu vaccine given prior to discharge."),
    ("", "Slept poorly night 1 d/t roommate; melatonin 3 mg PRN."),
    ("", "Son at bedside, updated on plan."),
    ("", "Code status: full code, confirmed w/ pt."),
    ("", "Chronic low back pain, stable on home regimen."),
    ("", "Vit B12 {b12}, nl."),
    ("", "SW arranged transportation home."),
)
MESSAGE_DISTRACTORS = (
    "My grandson is staying with us this week.",
    "The weather has been awful so I haven't been walking.",
    "My neighbor had something similar and ended up in the ER, but he's 90.",
    "I also have my eye appointment on the {day}th, not sure if that matters.",
    "Sorry, my daughter usually writes these for me.",
    "My sister had her knee replaced last month and is doing great.",
)
_SECTION_LABELS = {
    "course": ("Hospital course:", "HOSPITAL COURSE:", "Brief hospital course:", "Course:"),
    "meds": ("Med changes:", "Discharge med changes:", "Meds:", "Medications:"),
    "dispo": ("Dispo:", "Disposition:"),
    "fu": ("F/u:", "Follow-up:", "FOLLOW UP:"),
    "pending": ("Pending:", "Pending at d/c:", "Outstanding results:"),
}
_NOTE_ABBREVIATIONS = ((r"\bdischarge\b", "d/c"), (r"\bwith\b", "w/"), (r"\bweeks\b", "wks"),
                       (r"\bhours\b", "hrs"), (r"\bfollow-up\b", "f/u"),
                       (r"\bpatient\b", "pt"), (r"\bbilateral\b", "bilat"),
                       (r"\bwithout\b", "w/o"))


def _fill(template: str, r: random.Random) -> str:
    return template.format(hgb=r.randint(98, 114) / 10, mm=r.randint(3, 6),
                           year=r.randint(1995, 2021), k=r.randint(1, 4), lt=r.choice((50, 75, 88)),
                           b12=r.randint(320, 780), day=r.randint(11, 28))


def _with_distractors(case: _Case, r: random.Random, n: int) -> list[tuple[str, str]]:
    parts = list(case.parts)
    if case.message:
        pool = list(MESSAGE_DISTRACTORS)
    else:
        pool = [text for tag, text in NOTE_DISTRACTORS if tag not in case.avoid]
    for text in r.sample(pool, n):
        if case.message:  # anywhere in the body
            body = [i for i, (section, _) in enumerate(parts) if section == "body"]
            parts.insert(r.randint(body[0], body[-1] + 1), ("body", _fill(text, r)))
        else:  # in the second half of the course, never in the plan
            end = _course_end(parts)
            parts.insert(r.randint(max(2, end // 2), end), ("course", _fill(text, r)))
    return parts


def _render(parts: list[tuple[str, str]], r: random.Random, message: bool) -> str:
    if message:
        sep = r.choice((" ", " ", "\n"))
        body = " ".join(t for s, t in parts if s == "body")
        return sep.join(t for t in ([p[1] for p in parts if p[0] == "open"] + [body]
                                    + [p[1] for p in parts if p[0] == "close"]) if t)
    if r.random() < 0.5:  # one paragraph
        header = r.choice(("", "Brief hospital course: ", "HOSPITAL COURSE: ",
                           "Hospital course: "))
        text = header + " ".join(t for _, t in parts)
    else:  # sections
        lines = []
        for section in ("course", "meds", "dispo", "fu", "pending"):
            members = ("hpi", "course") if section == "course" else (section,)
            sentences = [t for s, t in parts if s in members]
            if sentences:
                lines.append(f"{r.choice(_SECTION_LABELS[section])} {' '.join(sentences)}")
        text = "\n".join(lines)
    for pattern, short in _NOTE_ABBREVIATIONS:
        text = re.sub(pattern, lambda m, s=short: s if r.random() < 0.5 else m.group(0), text)
    return text


def _typos(text: str, rate: float, r: random.Random) -> str:
    """Swap or drop a letter in a share ``rate`` of lower-case words of 5+ letters (not drug
    names): clinicians misspell words, rarely the drug or a number."""
    def typo(m: re.Match) -> str:
        word = m.group(0)
        if word in DRUGS or r.random() >= rate:
            return word
        i = r.randrange(1, len(word) - 2)
        if r.random() < 0.5:
            return word[:i] + word[i + 1] + word[i] + word[i + 2:]
        return word[:i] + word[i + 1:]
    return re.sub(r"(?<![\w/-])[a-z]{5,}(?![\w/-])", typo, text)


def _casual(text: str, r: random.Random) -> str:
    """Patient-message register: some write without capitals or with 'u', 'pls'."""
    if r.random() < 0.2:
        text = text.lower()
    if r.random() < 0.3:
        text = re.sub(r"\bplease\b", "pls", text)
        text = re.sub(r"\byou\b", "u", text)
    return text


def generate_notes(n_items: int, seed: int, hard_share: float = 0.3, noise: float = 0.02,
                   message_share: float = 0.25) -> list[dict]:
    """``n_items`` distinct notes with a reference summary and its key facts.

    A share ``message_share`` are patient-portal messages (``MESSAGE_SCENARIOS``), the rest
    brief hospital courses (``NOTE_SCENARIOS``); scenarios are balanced within each (counts
    differ by at most one). A share ``hard_share`` are hard cases, their variants balanced:
    ``negated_finding`` (a negative result the summary must keep negative: "CTA negative for
    PE"), ``changed_plan`` (a plan or dose changed mid-course; only the final one is a key
    fact, the note gives the first plan too, often with its dose) and ``distractor`` (two or
    three irrelevant details, some with numbers). Any item may carry one irrelevant detail.
    ``noise`` is the share of longer lower-case words given a typo (never a drug name or a
    number). Shares are exact up to rounding. Items: ``id``, ``text``, ``reference``,
    ``key_facts`` (4-6), ``scenario``, ``hard`` (bool), ``variant`` ("" when not hard).
    """
    if n_items < 0:
        raise ValueError(f"n_items must be >= 0, got {n_items}")
    for key, value in (("hard_share", hard_share), ("noise", noise),
                       ("message_share", message_share)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{key} must lie in [0, 1], got {value}")
    rng = random.Random(seed)
    n_messages = round(n_items * message_share)
    scenarios = ([MESSAGE_SCENARIOS[i % len(MESSAGE_SCENARIOS)] for i in range(n_messages)]
                 + [NOTE_SCENARIOS[i % len(NOTE_SCENARIOS)] for i in range(n_items - n_messages)])
    rng.shuffle(scenarios)
    n_hard = round(n_items * hard_share)
    variants = ([HARD_VARIANTS[i % len(HARD_VARIANTS)] for i in range(n_hard)]
                + [""] * (n_items - n_hard))
    rng.shuffle(variants)

    items, seen = [], set()
    for i in range(n_items):
        for attempt in range(1000):  # regenerate on a repeated text
            r = random.Random(f"{seed}:{i}:{attempt}")
            item = _item(r, scenarios[i], variants[i], noise)
            if item["text"] not in seen:
                break
        else:
            raise RuntimeError(f"could not write {n_items} distinct notes")
        seen.add(item["text"])
        items.append({"id": f"note-{i:05d}", **item})
    return items


def _item(r: random.Random, scenario: str, variant: str, noise: float) -> dict:
    patient = _Patient(r.randint(42, 91), r.random() < 0.5)
    case = SCENARIOS[scenario](r, patient, variant)
    n_distractors = (r.randint(2, 3) if variant == "distractor"
                     else int(r.random() < 0.3))
    parts = _with_distractors(case, r, n_distractors)
    text = _render(parts, r, case.message)
    if case.message:
        text = _casual(text, r)
    # typos from their own generator: the same seed gives the same notes at every noise level
    text = _typos(text, noise, random.Random(f"typos:{text}"))
    return {"text": text, "reference": " ".join(case.ref), "key_facts": list(case.facts),
            "scenario": scenario, "hard": bool(variant), "variant": variant}


HOSPITAL_COURSE = SummaryTask(
    name="hospital_course_summary",
    # Template family: split.by: group keeps each in one split (test = unseen families).
    group_field="scenario",
    family="summarization",
    description="Summarize a brief hospital course or a patient message in 2-4 sentences; "
                "graded 1-5 on key facts kept and contradicted, plus ROUGE-L.",
    instruction=("Summarize the clinical note for the next clinician. Keep the diagnosis, key "
                 "results (negative ones too), treatments, medication changes with doses, "
                 "follow-up and pending items. Add nothing that is not in the note."),
    build_items=generate_notes,
)
