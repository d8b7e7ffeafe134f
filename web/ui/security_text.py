"""UI strings of the security features (sessions, sign-out everywhere), registered into ``i18n``."""

from __future__ import annotations

from web.ui import i18n

ZH: dict[str, str] = {
    "adm.signout_all": "全部下线",
    "adm.signed_out": "已结束 {username} 的全部登录会话（{count} 个）。",
    "adm.username_invalid": "用户名只能由字母、数字和 _ . - 组成，1–60 个字符（不能有空格或标记）。",
    "session.ended": "登录已失效（长时间未操作、已退出或已被管理员结束），请重新登录。",
}
EN: dict[str, str] = {
    "adm.signout_all": "Sign out everywhere",
    "adm.signed_out": "Ended every session of {username} ({count}).",
    "adm.username_invalid": "A username is 1–60 letters, digits, '_', '.' or '-' (no spaces, no markup).",
    "session.ended": "Your session has ended (idle, signed out or ended by an admin); please sign in again.",
}

for _key, _text in ZH.items():
    i18n.ZH.setdefault(_key, _text)
for _key, _text in EN.items():
    i18n.EN.setdefault(_key, _text)
