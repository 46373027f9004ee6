"""Static reference data of the demo shop: categories, brands, product title parts.

This module is plain data. The demo data generator builds the product catalog from it,
the jieba user dictionary for Rasa is generated from it, and the NLU synonyms name the
same category keys and brands.
"""

from __future__ import annotations

from typing import NamedTuple


class Category(NamedTuple):
    key: str
    zh: str
    en: str
    # Words members use for this category (Chinese and English); all map to ``key``.
    synonyms: tuple[str, ...]


class Brand(NamedTuple):
    key: str
    zh: str
    en: str
    category: str
    tier: str  # "mass" | "mid" | "premium": drives the price band of its products


CATEGORIES: tuple[Category, ...] = (
    Category("beauty", "美妆护肤", "Beauty & Skincare",
             ("美妆", "护肤", "护肤品", "化妆品", "彩妆", "口红", "面霜", "精华", "beauty", "makeup", "skincare", "cosmetics")),
    Category("apparel", "服饰鞋包", "Fashion",
             ("衣服", "服装", "服饰", "女装", "男装", "包包", "鞋子", "外套", "clothes", "clothing", "fashion")),
    Category("digital", "数码电子", "Electronics",
             ("数码", "电子产品", "手机", "耳机", "平板", "电脑", "笔记本", "digital", "electronics", "phone", "phones")),
    Category("home", "家居生活", "Home & Living",
             ("家居", "家居用品", "日用品", "床品", "收纳", "四件套", "home", "household")),
    Category("food", "食品生鲜", "Food & Grocery",
             ("零食", "食品", "吃的", "生鲜", "坚果", "牛奶", "饮料", "food", "snacks", "grocery")),
    Category("mother_baby", "母婴用品", "Mother & Baby",
             ("母婴", "宝宝用品", "婴儿用品", "奶粉", "纸尿裤", "尿不湿", "baby", "diapers")),
    Category("sports", "运动户外", "Sports & Outdoors",
             ("运动", "户外", "运动装备", "跑鞋", "运动鞋", "健身", "sports", "outdoor", "fitness")),
    Category("appliances", "家用电器", "Home Appliances",
             ("家电", "电器", "小家电", "空调", "冰箱", "吸尘器", "appliances", "appliance")),
    Category("books", "图书文具", "Books & Stationery",
             ("图书", "书", "书籍", "文具", "笔记本子", "books", "stationery")),
    Category("pets", "宠物用品", "Pet Supplies",
             ("宠物", "猫粮", "狗粮", "猫砂", "宠物用品", "pets", "pet food")),
)

BRANDS: tuple[Brand, ...] = (
    Brand("lancome", "兰蔻", "Lancome", "beauty", "premium"),
    Brand("estee_lauder", "雅诗兰黛", "Estee Lauder", "beauty", "premium"),
    Brand("proya", "珀莱雅", "Proya", "beauty", "mid"),
    Brand("perfect_diary", "完美日记", "Perfect Diary", "beauty", "mass"),
    Brand("chando", "自然堂", "Chando", "beauty", "mid"),
    Brand("uniqlo", "优衣库", "Uniqlo", "apparel", "mass"),
    Brand("bosideng", "波司登", "Bosideng", "apparel", "mid"),
    Brand("peacebird", "太平鸟", "Peacebird", "apparel", "mid"),
    Brand("huawei", "华为", "Huawei", "digital", "premium"),
    Brand("xiaomi", "小米", "Xiaomi", "digital", "mid"),
    Brand("apple", "苹果", "Apple", "digital", "premium"),
    Brand("lenovo", "联想", "Lenovo", "digital", "mid"),
    Brand("muji", "无印良品", "MUJI", "home", "mid"),
    Brand("yanxuan", "网易严选", "Yanxuan", "home", "mass"),
    Brand("luolai", "罗莱", "Luolai", "home", "premium"),
    Brand("three_squirrels", "三只松鼠", "Three Squirrels", "food", "mass"),
    Brand("bestore", "良品铺子", "Bestore", "food", "mass"),
    Brand("mengniu", "蒙牛", "Mengniu", "food", "mass"),
    Brand("pampers", "帮宝适", "Pampers", "mother_baby", "mid"),
    Brand("feihe", "飞鹤", "Feihe", "mother_baby", "premium"),
    Brand("goodbaby", "好孩子", "Goodbaby", "mother_baby", "mid"),
    Brand("lining", "李宁", "Li-Ning", "sports", "mid"),
    Brand("anta", "安踏", "Anta", "sports", "mass"),
    Brand("nike", "耐克", "Nike", "sports", "premium"),
    Brand("decathlon", "迪卡侬", "Decathlon", "sports", "mass"),
    Brand("midea", "美的", "Midea", "appliances", "mid"),
    Brand("haier", "海尔", "Haier", "appliances", "mid"),
    Brand("dyson", "戴森", "Dyson", "appliances", "premium"),
    Brand("joyoung", "九阳", "Joyoung", "appliances", "mass"),
    Brand("deli", "得力", "Deli", "books", "mass"),
    Brand("mg", "晨光", "M&G", "books", "mass"),
    Brand("citic", "中信出版", "CITIC Press", "books", "mid"),
    Brand("royal_canin", "皇家", "Royal Canin", "pets", "premium"),
    Brand("myfoodie", "麦富迪", "Myfoodie", "pets", "mass"),
)

# Product lines per category: (Chinese noun, English noun, base price in yuan, tags).
PRODUCT_LINES: dict[str, tuple[tuple[str, str, float, tuple[str, ...]], ...]] = {
    "beauty": (
        ("保湿精华液", "Hydrating Serum", 320.0, ("保湿", "精华")),
        ("丝绒哑光口红", "Velvet Matte Lipstick", 160.0, ("彩妆", "口红")),
        ("修护面霜", "Repair Cream", 380.0, ("面霜", "修护")),
        ("氨基酸洁面乳", "Amino Acid Cleanser", 89.0, ("洁面", "温和")),
        ("防晒乳 SPF50", "Sunscreen SPF50", 129.0, ("防晒", "夏季")),
        ("补水面膜 10片装", "Hydrating Sheet Masks (10)", 99.0, ("面膜", "补水")),
    ),
    "apparel": (
        ("轻薄羽绒服", "Ultra Light Down Jacket", 499.0, ("冬季", "保暖")),
        ("纯棉圆领T恤", "Cotton Crew Neck T-Shirt", 79.0, ("纯棉", "基础款")),
        ("高腰直筒牛仔裤", "High-Rise Straight Jeans", 229.0, ("牛仔", "百搭")),
        ("羊毛针织开衫", "Wool Knit Cardigan", 359.0, ("羊毛", "秋冬")),
        ("通勤托特包", "Commuter Tote Bag", 299.0, ("包袋", "通勤")),
        ("防风连帽外套", "Windproof Hooded Jacket", 399.0, ("外套", "防风")),
    ),
    "digital": (
        ("降噪蓝牙耳机", "Noise-Cancelling Earbuds", 899.0, ("耳机", "降噪")),
        ("5G 智能手机 256GB", "5G Smartphone 256GB", 4299.0, ("手机", "5G")),
        ("11英寸平板电脑", "11-inch Tablet", 2499.0, ("平板", "学习")),
        ("智能手表", "Smart Watch", 1299.0, ("穿戴", "健康")),
        ("65W 氮化镓快充充电器", "65W GaN Fast Charger", 149.0, ("配件", "快充")),
        ("轻薄笔记本电脑 14英寸", "14-inch Ultrabook", 5999.0, ("电脑", "办公")),
    ),
    "home": (
        ("全棉四件套", "Cotton Bedding Set (4 pcs)", 459.0, ("床品", "全棉")),
        ("记忆棉枕头", "Memory Foam Pillow", 199.0, ("枕头", "睡眠")),
        ("香薰加湿器", "Aroma Humidifier", 169.0, ("香薰", "加湿")),
        ("可折叠收纳箱 3个装", "Foldable Storage Boxes (3)", 89.0, ("收纳", "整理")),
        ("珊瑚绒毛毯", "Coral Fleece Blanket", 129.0, ("毛毯", "保暖")),
        ("陶瓷餐具套装", "Ceramic Dinnerware Set", 239.0, ("餐具", "厨房")),
    ),
    "food": (
        ("每日坚果 30袋", "Daily Mixed Nuts (30 packs)", 129.0, ("坚果", "零食")),
        ("纯牛奶 24盒", "Whole Milk (24 cartons)", 69.0, ("牛奶", "早餐")),
        ("芒果干 500g", "Dried Mango 500g", 39.0, ("果干", "零食")),
        ("手撕牛肉干", "Shredded Beef Jerky", 59.0, ("肉干", "零食")),
        ("低糖全麦面包", "Low-Sugar Whole Wheat Bread", 29.0, ("面包", "早餐")),
        ("零食大礼包", "Snack Gift Box", 99.0, ("礼包", "零食")),
    ),
    "mother_baby": (
        ("婴儿纸尿裤 L码", "Baby Diapers Size L", 139.0, ("纸尿裤", "婴儿")),
        ("婴幼儿配方奶粉 3段", "Infant Formula Stage 3", 289.0, ("奶粉", "婴幼儿")),
        ("轻便婴儿推车", "Lightweight Stroller", 1299.0, ("推车", "出行")),
        ("婴儿湿巾 80抽×6包", "Baby Wipes 80x6", 59.0, ("湿巾", "护理")),
        ("儿童安全座椅", "Child Car Seat", 1599.0, ("安全座椅", "出行")),
    ),
    "sports": (
        ("缓震跑步鞋", "Cushioned Running Shoes", 599.0, ("跑鞋", "缓震")),
        ("速干运动T恤", "Quick-Dry Sports Tee", 129.0, ("速干", "训练")),
        ("瑜伽垫 6mm", "Yoga Mat 6mm", 99.0, ("瑜伽", "健身")),
        ("登山双肩包 30L", "Hiking Backpack 30L", 299.0, ("户外", "登山")),
        ("篮球鞋", "Basketball Shoes", 699.0, ("篮球", "球鞋")),
        ("户外冲锋衣", "Outdoor Shell Jacket", 799.0, ("户外", "防水")),
    ),
    "appliances": (
        ("无线吸尘器", "Cordless Vacuum Cleaner", 1999.0, ("清洁", "无线")),
        ("智能电饭煲 4L", "Smart Rice Cooker 4L", 399.0, ("厨房", "电饭煲")),
        ("破壁豆浆机", "High-Speed Blender", 599.0, ("厨房", "豆浆")),
        ("空气炸锅 5L", "Air Fryer 5L", 349.0, ("厨房", "空气炸锅")),
        ("变频空调 1.5匹", "Inverter Air Conditioner 1.5HP", 3299.0, ("空调", "节能")),
        ("高速吹风机", "High-Speed Hair Dryer", 899.0, ("吹风机", "个护")),
    ),
    "books": (
        ("中性笔 12支装", "Gel Pens (12)", 19.0, ("文具", "书写")),
        ("A5 手账本", "A5 Planner Notebook", 35.0, ("本子", "手账")),
        ("经济学通识读本", "Economics: A Primer", 68.0, ("图书", "经管")),
        ("儿童绘本套装", "Children's Picture Book Set", 158.0, ("图书", "童书")),
        ("办公文件收纳盒", "Desktop File Organizer", 45.0, ("办公", "收纳")),
    ),
    "pets": (
        ("成猫全价猫粮 2kg", "Adult Cat Food 2kg", 169.0, ("猫粮", "猫")),
        ("成犬狗粮 10kg", "Adult Dog Food 10kg", 329.0, ("狗粮", "狗")),
        ("豆腐猫砂 6L×4", "Tofu Cat Litter 6L x4", 89.0, ("猫砂", "猫")),
        ("冻干鸡肉零食", "Freeze-Dried Chicken Treats", 59.0, ("零食", "宠物")),
        ("宠物自动饮水机", "Automatic Pet Fountain", 139.0, ("饮水", "智能")),
    ),
}

# Variants make distinct SKUs of one product line (colour, size, edition).
VARIANTS: tuple[tuple[str, str], ...] = (
    ("经典款", "Classic"),
    ("升级款", "Plus"),
    ("限定款", "Limited Edition"),
    ("轻享款", "Lite"),
)

TIER_PRICE_FACTOR: dict[str, float] = {"mass": 0.6, "mid": 1.0, "premium": 1.8}

CITIES: tuple[str, ...] = (
    "上海", "北京", "广州", "深圳", "杭州", "成都", "南京", "武汉", "西安", "重庆",
    "苏州", "天津", "长沙", "郑州", "青岛", "厦门", "昆明", "沈阳", "合肥", "宁波",
)

SURNAMES: tuple[str, ...] = (
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱",
    "胡", "郭", "何", "林", "高", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯",
)

GIVEN_NAMES_FEMALE: tuple[str, ...] = (
    "静", "敏", "丽", "婷", "雪", "芳", "娜", "颖", "琳", "欣怡", "梓涵", "雨桐", "思琪",
    "佳怡", "晓燕", "慧", "玉兰", "诗涵", "可馨", "若曦",
)
GIVEN_NAMES_MALE: tuple[str, ...] = (
    "伟", "强", "磊", "军", "洋", "勇", "杰", "涛", "明", "超", "浩然", "子轩", "宇航",
    "俊杰", "志强", "建华", "晨阳", "博文", "一鸣", "天佑",
)
