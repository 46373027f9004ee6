"""The scripts of the demo traffic (bench/demo_traffic.py): who says what, drawn from a seed.

Pure and deterministic: conversation *i* depends only on the seed and *i* (a longer plan extends a
shorter one). ~15% anonymous visitors, ~15% English, the intents the bot knows, moods (angry,
anxious, disappointed, joyful), ~5% gibberish pairs and questions the bot was never taught; each
script also says what the member (and the agent) do if the conversation is handed off.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any, Sequence

from personalization.catalog_data import BRANDS, CATEGORIES

# Seconds a member pauses before each message (reading the answer, typing).
THINK_SECONDS = (0.3, 1.5)
ANONYMOUS_SHARE = 0.15
ENGLISH_SHARE = 0.15
# Scenario -> weight (per cent). angry + human + gibberish (+ complaints that accept the offered
# human) make ~10-12% hand-offs.
SCENARIOS: dict[str, int] = {
    "points": 13, "coupons": 13, "recommend": 18, "order": 12, "return": 7, "tier": 8, "complaint": 7,
    "angry": 3, "human": 2, "gibberish": 5, "unknown": 6, "chitchat": 6,
}
HANDOFF_SCENARIOS = frozenset({"angry", "human", "gibberish"})
# What a member does once handed off: leaves the queue (cancel) or waits, chats and rates the agent.
CANCEL_SHARE = 0.12
RATE_SHARE = 0.85
AGENT_SCORES = ((5, 40), (4, 30), (3, 15), (2, 9), (1, 6))
BOT_SCORES = ((5, 55), (4, 30), (3, 10), (2, 3), (1, 2))
# Seconds until an agent picks a queued conversation up, and an agent's typing time.
PICKUP_SECONDS = (0.5, 3.0)
AGENT_THINK_SECONDS = (0.5, 2.0)

Lang = str


# -- the scripts --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    """One member action: type ``text``, or press a button of the bot's last answer (``click``).

    ``click`` is ``claim`` (a 领取 button; ``choice`` picks which offer), ``more`` (换一批),
    ``rate`` (the bot's rating button for ``score``) or ``decline`` (不用了); a press whose button
    the bot did not show is skipped (and counted).
    """

    text: str = ""
    click: str | None = None
    choice: int = 0
    score: int | None = None
    think_s: float = 0.0


@dataclass(frozen=True)
class HandoffPlan:
    """What the member (and the agent) do if the conversation is handed off."""

    cancel: bool
    pickup_s: float
    member_texts: tuple[str, ...]
    agent_texts: tuple[str, ...]
    agent_think_s: tuple[float, ...]
    csat: int | None


@dataclass(frozen=True)
class ConversationPlan:
    index: int
    scenario: str
    language: Lang
    anonymous: bool
    tags: tuple[str, ...]
    steps: tuple[Step, ...]
    handoff: HandoffPlan

    @property
    def clicks(self) -> Counter[str]:
        return Counter(step.click for step in self.steps if step.click)


# Phrasings are this module's own variations (the training data in data/nlu is not replayed).
TEXTS: dict[Lang, dict[str, tuple[str, ...]]] = {
    "zh": {
        "greet": ("你好", "在吗", "哈喽，有人吗", "早上好呀", "亲，在不在", "您好", "嗨～", "晚上好"),
        "points": ("我现在有多少积分", "帮我看看积分余额", "积分快过期了吗", "我的积分能抵多少钱",
                   "积分怎么用啊", "查下积分", "最近买东西积分到账了没", "有多少积分可以用"),
        "coupons": ("我有什么优惠券", "有没有能用的券", "最近有满减券吗", "帮我看看优惠券",
                    "有券可以领吗", "我的红包在哪里", "给我来张优惠券呗", "有没有无门槛券"),
        "coupons_after": ("看看我的优惠券", "那有优惠券可以用吗", "顺便看下有没有券"),
        "recommend": ("有什么推荐的吗", "给我推荐点好东西", "最近有什么值得买的", "帮我挑点东西",
                      "有没有适合我的推荐", "不知道买啥，推荐一下"),
        "recommend_category": ("想买{category}，有推荐吗", "推荐点{category}吧", "{category}有什么好的",
                               "帮我挑几样{category}"),
        "recommend_brand": ("{brand}有什么值得买的", "看看{brand}的东西", "{brand}有推荐吗"),
        "recommend_price": ("{price}块以内的{category}有吗", "预算{price}左右，推荐点{category}"),
        "more": ("换一批", "还有别的吗", "再来几个"),
        "order": ("我的订单到哪了", "快递到哪里了", "我买的东西发货了吗", "帮我查下物流",
                  "包裹什么时候能到", "订单状态怎么样了"),
        "order_anxious": ("急死了，我的快递好几天没动了，到底什么时候到啊", "好着急啊，订单一直没发货，是不是出问题了",
                          "怎么办，明天就要用了，快递还没到，好担心", "都一个星期了还没收到，我很担心是不是丢件了"),
        "return": ("我想退货", "这个能退吗", "怎么申请退款", "尺码不合适想换货", "退款多久能到账",
                   "收到的东西有点问题，想退"),
        "tier": ("我是什么会员等级", "会员有哪些权益", "怎么升级到金卡", "离下一级还差多少",
                 "钻石会员有什么好处", "我的会员级别是啥"),
        "complaint": ("东西收到了，质量有点让人失望", "这次买的衣服和图片差太多了，挺失望的",
                      "快递太慢了，体验不太好", "包装压坏了，有点难过"),
        "complaint_more": ("唉，之前也遇到过一次，真的有点失望", "希望你们以后能改进吧，这次真的不太满意"),
        "angry": ("你们这什么破服务！订单十天了还没发货，气死我了！", "垃圾平台！假货还不给退，我要投诉！！",
                  "太过分了！客服一直不回消息，气死了！", "简直就是骗子！说好三天到现在一周了！！"),
        "angry_more": ("转人工！", "别跟我说这些，叫人工来", "我要找真人客服"),
        "human": ("转人工客服", "我要找人工", "有没有真人客服", "帮我转接人工", "人工服务"),
        "unknown": ("能开发票吗", "发票怎么开", "电子发票在哪里下载", "你们线下门店几点关门",
                    "附近有实体店吗", "可以帮我包装成礼物吗", "礼品包装要钱吗", "这件衣服的尺码表在哪",
                    "买贵了能保价吗", "降价了能退差价吗", "可以分期付款吗", "能寄到香港吗"),
        "chitchat": ("你是机器人吗", "你是真人吗", "讲个笑话吧", "今天天气怎么样"),
        "thanks": ("谢谢", "好的，谢谢", "明白了，多谢", "辛苦了"),
        "joy": ("太好了，问题解决了，谢谢你！", "哇，太棒了，非常满意！", "好开心，谢谢小助手～",
                "真不错，帮大忙了，感谢！"),
        "goodbye": ("再见", "拜拜", "好的，先这样，再见", "886"),
        "handoff_member": ("我的订单一直没发货，能帮我催一下吗", "收到的商品是坏的，我想换一个新的",
                           "我想改一下收货地址，自己改不了", "优惠券用不了，结账的时候报错"),
        "handoff_member_more": ("好的，那麻烦尽快", "嗯嗯，我等你消息", "那大概要多久？"),
        "agent": ("您好，我是人工客服，非常抱歉给您带来不便，我马上为您核实。",
                  "已经帮您加急处理了，预计24小时内会有结果。", "这边已经为您登记，稍后会有专人联系您。",
                  "问题已经处理好了，您刷新一下页面看看。"),
    },
    "en": {
        "greet": ("hi", "hello", "hey there", "good morning", "anyone there?"),
        "points": ("how many points do I have", "check my points balance", "when do my points expire",
                   "what can I do with my points"),
        "coupons": ("do I have any coupons", "any vouchers I can use?", "show me my coupons", "any discounts for me?"),
        "coupons_after": ("show me my coupons too", "any coupons I could use?"),
        "recommend": ("any recommendations for me?", "what should I buy", "recommend something nice",
                      "show me something I might like"),
        "recommend_category": ("I'm looking for {category}, any suggestions?", "recommend some {category}"),
        "recommend_brand": ("anything good from {brand}?", "show me {brand} products"),
        "recommend_price": ("{category} under {price} please",),
        "more": ("show me more", "anything else?", "other options please"),
        "order": ("where is my order", "has my parcel shipped?", "track my package", "what's my order status"),
        "order_anxious": ("I'm really worried, my parcel hasn't moved for days", "I'm so anxious, my order still "
                          "hasn't shipped and I need it tomorrow"),
        "return": ("I want to return an item", "how do I get a refund", "can I exchange this for another size"),
        "tier": ("what's my membership tier", "what are my member benefits", "how do I reach gold"),
        "complaint": ("the item I got is disappointing", "delivery was really slow, not happy"),
        "complaint_more": ("honestly this was a let-down", "I expected much better, sadly"),
        "angry": ("This is outrageous! My order is ten days late and nobody cares!",
                  "Terrible service!! I got a fake product and you refuse to refund, I'm furious!"),
        "angry_more": ("get me a human now", "I want to talk to a real person"),
        "human": ("talk to a human agent", "I need a real person", "connect me to customer service"),
        "unknown": ("can I get an invoice", "what time does your store close", "can you gift wrap it",
                    "do you ship to Hong Kong", "can I pay in installments"),
        "chitchat": ("are you a bot?", "tell me a joke", "how's the weather"),
        "thanks": ("thanks", "thank you", "ok thanks a lot"),
        "joy": ("Great, that solved it, thank you so much!", "Awesome, I'm really happy with that!"),
        "goodbye": ("bye", "goodbye", "see you"),
        "handoff_member": ("my order still hasn't shipped, can you hurry it up?", "the item arrived broken, "
                           "I'd like a replacement", "I need to change my delivery address"),
        "handoff_member_more": ("ok, please be quick", "alright, how long will it take?"),
        "agent": ("Hello, I'm sorry for the trouble, let me check that for you right away.",
                  "I've escalated it, you'll hear back within 24 hours.", "All sorted now, please refresh the page."),
    },
}
ZH_PREFIXES = ("", "", "", "亲，", "你好，", "麻烦问下，")
ZH_QUESTION_ENDS = "吗呢没么"
PRICES = (100, 200, 300, 500, 1000)


def _weighted(rng: random.Random, pairs: Sequence[tuple[Any, int]]) -> Any:
    return rng.choices([value for value, _ in pairs], weights=[weight for _, weight in pairs])[0]


def _say(rng: random.Random, lang: Lang, key: str, *, decorate: bool = True, **values: Any) -> str:
    text = rng.choice(TEXTS[lang][key]).format(**values)
    if lang == "zh" and decorate:
        prefix = rng.choice(ZH_PREFIXES)
        if text[-1] in ZH_QUESTION_ENDS:
            suffix = rng.choice(("", "？"))
        elif text[-1] in "？?！!。～":
            suffix = ""
        else:
            suffix = rng.choice(("", "", "，谢谢"))
        text = f"{prefix}{text}{suffix}"
    return text


def gibberish(rng: random.Random) -> str:
    """A content-free message: keyboard mash, a random letter/digit run, or stray punctuation."""
    kind = rng.randrange(3)
    if kind == 0:
        rows = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
        return " ".join("".join(rng.choice(rng.choice(rows)) for _ in range(rng.randint(3, 7)))
                        for _ in range(rng.randint(1, 3)))
    if kind == 1:
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(rng.randint(6, 12)))
    return "".join(rng.choice("?？。.!！~…") for _ in range(rng.randint(3, 6)))


def _topic(rng: random.Random, lang: Lang, scenario: str, anonymous: bool) -> tuple[list[Step], list[str]]:
    """The steps of one topic and what they carry (moods, gibberish, unrecognized questions)."""
    say = lambda key, **kw: Step(text=_say(rng, lang, key, **kw))  # noqa: E731
    if scenario == "points":
        return [say("points")], []
    if scenario == "coupons":
        steps = [say("coupons")]
        if not anonymous and rng.random() < 0.7:
            steps.append(Step(click="claim", choice=rng.randrange(3)))
        return steps, []
    if scenario == "recommend":
        ask = rng.random()
        category = rng.choice(CATEGORIES)
        if ask < 0.45:
            steps = [say("recommend")]
        elif ask < 0.75:
            steps = [say("recommend_category", category=rng.choice(category.synonyms[:4] if lang == "zh"
                                                                   else (category.en.lower(),)))]
        elif ask < 0.9:
            brand = rng.choice(BRANDS)
            steps = [say("recommend_brand", brand=brand.zh if lang == "zh" else brand.en)]
        else:
            steps = [say("recommend_price", price=rng.choice(PRICES),
                         category=category.synonyms[0] if lang == "zh" else category.en.lower())]
        if rng.random() < 0.5:
            # The 换一批 button, or typed.
            steps.append(Step(click="more") if rng.random() < 0.6 else say("more", decorate=False))
        if not anonymous and rng.random() < 0.3:
            steps.append(say("coupons_after"))
            steps.append(Step(click="claim", choice=rng.randrange(3)))
        return steps, []
    if scenario == "order":
        if rng.random() < 0.5:
            return [say("order_anxious", decorate=False)], ["anxious"]
        return [say("order")], []
    if scenario == "return":
        return [say("return")], []
    if scenario == "tier":
        return [say("tier")], []
    if scenario == "complaint":
        steps = [say("complaint", decorate=False), say("complaint_more", decorate=False)]
        # Two negative turns: the bot offers a human (转人工客服 / 不用了); most decline.
        if rng.random() < 0.7:
            steps.append(Step(click="decline"))
        else:
            steps.append(say("human"))
        return steps, ["negative"]
    if scenario == "angry":
        return [say("angry", decorate=False), say("angry_more", decorate=False)], ["angry"]
    if scenario == "human":
        return [say("human")], []
    if scenario == "gibberish":
        return [Step(text=gibberish(rng)), Step(text=gibberish(rng))], ["gibberish"]
    if scenario == "unknown":
        return [say("unknown")], ["unrecognized"]
    if scenario == "chitchat":
        return [say("chitchat")], []
    raise ValueError(f"unknown scenario: {scenario}")


def plan_conversation(seed: int, index: int, think: tuple[float, float] = THINK_SECONDS) -> ConversationPlan:
    """The script of conversation ``index``: depends only on ``seed`` and ``index``."""
    rng = random.Random(f"demo-traffic:{seed}:{index}")
    anonymous = rng.random() < ANONYMOUS_SHARE
    language = "en" if rng.random() < ENGLISH_SHARE else "zh"
    scenario = _weighted(rng, list(SCENARIOS.items()))
    steps: list[Step] = []
    tags: list[str] = []
    if rng.random() < 0.45:
        steps.append(Step(text=_say(rng, language, "greet", decorate=False)))
    topic, topic_tags = _topic(rng, language, scenario, anonymous)
    steps += topic
    tags += topic_tags
    if scenario not in HANDOFF_SCENARIOS and rng.random() < 0.3:
        second = _weighted(rng, [(s, w) for s, w in SCENARIOS.items()
                                 if s not in HANDOFF_SCENARIOS and s not in ("complaint", scenario)])
        extra, extra_tags = _topic(rng, language, second, anonymous)
        steps += extra
        tags += extra_tags
    if scenario not in HANDOFF_SCENARIOS:
        closing = rng.random()
        if closing < 0.35:
            # Joy after something was settled: the bot thanks and shows its 1-5 rating buttons.
            steps.append(Step(text=_say(rng, language, "joy", decorate=False)))
            tags.append("joyful")
            if rng.random() < 0.8:
                steps.append(Step(click="rate", score=_weighted(rng, BOT_SCORES)))
        elif closing < 0.55:
            steps.append(Step(text=_say(rng, language, "thanks", decorate=False)))
        elif closing < 0.7:
            steps.append(Step(text=_say(rng, language, "goodbye", decorate=False)))
    steps = [replace(step, think_s=round(rng.uniform(*think), 3)) for step in steps]
    rounds = rng.randint(1, 2)
    handoff = HandoffPlan(
        cancel=rng.random() < CANCEL_SHARE,
        pickup_s=round(rng.uniform(*PICKUP_SECONDS), 3),
        member_texts=tuple([_say(rng, language, "handoff_member", decorate=False)]
                           + [_say(rng, language, "handoff_member_more", decorate=False) for _ in range(rounds - 1)]),
        agent_texts=tuple(_say(rng, language, "agent", decorate=False) for _ in range(rounds)),
        agent_think_s=tuple(round(rng.uniform(*AGENT_THINK_SECONDS), 3) for _ in range(rounds)),
        csat=_weighted(rng, AGENT_SCORES) if rng.random() < RATE_SHARE else None,
    )
    return ConversationPlan(index=index, scenario=scenario, language=language, anonymous=anonymous,
                            tags=tuple(tags), steps=tuple(steps), handoff=handoff)


def build_plan(count: int, seed: int, think: tuple[float, float] = THINK_SECONDS) -> list[ConversationPlan]:
    """``count`` conversation scripts (deterministic for ``seed``; a longer plan extends a shorter one)."""
    if count < 0:
        raise ValueError("count must be >= 0")
    return [plan_conversation(seed, index, think) for index in range(count)]


def assign_members(plans: Sequence[ConversationPlan], fresh: Sequence[str], busy: Sequence[str],
                   seed: int) -> dict[int, str | None]:
    """Plan index -> member id (None for visitors): members without an open conversation first.

    Both pools are shuffled with ``seed``; members with an open web conversation are used only
    once the fresh ones run out (their scripts then continue that conversation).
    """
    rng = random.Random(f"demo-traffic-members:{seed}")
    first, then = sorted(fresh), sorted(busy)
    rng.shuffle(first)
    rng.shuffle(then)
    pool = first + then
    wanted = sum(1 for plan in plans if not plan.anonymous)
    if wanted and not pool:
        raise ValueError("no members in the database")
    assigned: dict[int, str | None] = {}
    used = 0
    for plan in plans:
        if plan.anonymous:
            assigned[plan.index] = None
        else:
            assigned[plan.index] = pool[used % len(pool)]
            used += 1
    return assigned


def plan_mix(plans: Sequence[ConversationPlan]) -> dict[str, Any]:
    """Shares of what the plans contain (for the summary and the test)."""
    total = len(plans) or 1
    clicks: Counter[str] = Counter()
    for plan in plans:
        clicks.update(plan.clicks)
    return {
        "conversations": len(plans),
        "scenarios": dict(Counter(plan.scenario for plan in plans).most_common()),
        "anonymous_share": round(sum(plan.anonymous for plan in plans) / total, 3),
        "english_share": round(sum(plan.language == "en" for plan in plans) / total, 3),
        "tags": dict(Counter(tag for plan in plans for tag in plan.tags).most_common()),
        "member_turns": sum(len(plan.steps) for plan in plans),
        "button_presses": dict(clicks.most_common()),
    }
