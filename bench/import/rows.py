"""Generated unit rows: Vietnamese names with their diacritics, kinds, codes and contacts."""

import csv
import io
import random

from services.registry.names import name_key, slug, tone_slug

SYLLABLES = (
    "An Bình Hòa Hưng Phú Thịnh Tân Thành Đông Tây Nam Bắc Trung Hải Sơn Thủy Lâm Phong "
    "Quang Minh Đức Long Thái Hồng Lạc Vĩnh Cát Kiến Thụy Ngọc Xuân Thu Đại Tiên Lãng Kim "
    "Cẩm Giang Hà Lộc Khánh Phúc Thọ Mỹ Lợi Hiệp Dương Nghĩa Trường Tiến Thắng Lương Quý "
    "Kênh Hoàng Diệp Gia Việt Yên Chí Linh Mai Đình Vũ Thượng Hợp Tường Đồng Thanh Ninh "
    "Hậu Cường Liên Hiền Chính Toàn Tú Bảo Cao Nhân Tràng Kỳ Uông Bí Tứ Lê Lợi Ngô Quyền "
    "Đằng Giang Lạch Tray Cầu Đất Máy Chai Vạn Mỹ Đồ Sơn Bàng La Ngũ Lão Phù Ninh").split()
KINDS = (("Xã", "commune", 55), ("Phường", "ward", 35), ("Đặc khu", "special_zone", 1),
         ("Sở", "department", 3), ("Báo", "press", 2), ("Trang", "social_page", 4))
HEADER = ("code", "kind", "name", "admin_code", "email", "phone", "facebook")


def rows(count: int, *, seed: int = 14) -> list[tuple[str, ...]]:
    """`count` rows with names unique as the registry compares them. A row gives a code
    where the registry could make none from its name (as an administrator would, told so):
    "Tú" and "Tứ" make the same codes, and "Đông" none once "Đồng" has taken "dong"."""
    pick = random.Random(seed)
    weights = [weight for *_, weight in KINDS]
    seen: set[str] = set()
    taken: set[str] = set()
    made: list[tuple[str, ...]] = []
    while len(made) < count:
        prefix, kind, _ = pick.choices(KINDS, weights)[0]
        name = " ".join([prefix, *pick.sample(SYLLABLES, pick.choice((2, 2, 3)))])
        if name_key(name) in seen:
            continue
        seen.add(name_key(name))
        admin = str(10000 + len(made))
        code = f"{slug(name)}-{admin}" if pick.random() < 0.3 else ""  # the rest: from names
        made_code = next((c for c in (slug(name), tone_slug(name)) if c not in taken), None)
        if not code and made_code is None:
            code = f"{slug(name)}-{admin}"
        taken.add(code or str(made_code))
        email = f"vanthu.{admin}@haiphong.gov.vn" if pick.random() < 0.5 else ""
        phone = f"0225 3{pick.randrange(10**6):06d}" if pick.random() < 0.3 else ""
        page = f"https://facebook.com/{slug(name)}{admin}" if pick.random() < 0.2 else ""
        made.append((code, kind, name, admin, email, phone, page))
    return made


def csv_bytes(count: int, *, seed: int = 14) -> bytes:
    """The rows as the CSV file an administrator would send."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows(count, seed=seed))
    return out.getvalue().encode()
