"""Every user-facing text of the UI, in one place (the blog speaks Korean)."""

APP_NAME = "notifier"
TAGLINE = "실시간 알림이 있는 블로그"

NAV_HOME = "홈"
NAV_WRITE = "글쓰기"
NAV_LOGIN = "로그인"
NAV_SIGNUP = "회원가입"
NAV_LOGOUT = "로그아웃"
NAV_NOTIFICATIONS = "알림"

FEED_TITLE = "최신 글"
FEED_EMPTY = "아직 글이 없어요. 첫 글을 써 보세요!"
NEW_POSTS_PREFIX = "새 글 "
NEW_POSTS_SUFFIX = "개 보기"
PREV_PAGE = "이전"
NEXT_PAGE = "다음"
COMMENTS = "댓글"
BY = "작성자"

POST_NOT_FOUND = "글을 찾을 수 없어요."
COMMENT_PLACEHOLDER = "댓글을 남겨 주세요"
COMMENT_SUBMIT = "댓글 달기"
COMMENT_LOGIN_REQUIRED = "댓글을 달려면 로그인하세요."
COMMENT_INVALID = "댓글은 1~2,000자로 써 주세요."
NO_COMMENTS = "첫 댓글을 남겨 보세요."

NEW_POST_TITLE = "새 글 쓰기"
TITLE_LABEL = "제목"
BODY_LABEL = "내용"
PUBLISH = "게시하기"
POST_INVALID = "제목은 1~200자, 내용은 20,000자 이하로 써 주세요."
LOGIN_REQUIRED = "로그인이 필요해요."

LOGIN_TITLE = "로그인"
SIGNUP_TITLE = "회원가입"
EMAIL_LABEL = "이메일"
NICKNAME_LABEL = "닉네임"
PASSWORD_LABEL = "비밀번호"
LOGIN_SUBMIT = "로그인"
SIGNUP_SUBMIT = "가입하기"
TO_SIGNUP = "계정이 없나요? 회원가입"
TO_LOGIN = "이미 계정이 있나요? 로그인"

LOGIN_ERRORS = {
    "credentials": "이메일 또는 비밀번호가 올바르지 않아요.",
    "origin": "다른 사이트에서 보낸 요청은 받을 수 없어요. 여기서 다시 로그인해 주세요.",
    "busy": "지금 요청이 많아요. 잠시 후 다시 시도해 주세요.",
    "throttled": "로그인 시도가 너무 많아요. 잠시 후 다시 시도해 주세요.",
}
SIGNUP_ERRORS = {
    "taken": "이미 가입된 이메일이에요.",
    "email": "올바른 이메일 주소를 입력해 주세요.",
    "nickname": "닉네임은 1~30자로 입력해 주세요.",
    "password": "비밀번호는 8자 이상이어야 해요.",
    "busy": "지금 요청이 많아요. 잠시 후 다시 시도해 주세요.",
}
SIGNUP_ERROR_DEFAULT = "입력 내용을 확인해 주세요."

# Notifications (toasts, bell, inbox)
TOAST_CLOSE = "알림 닫기"
TOAST_GO = "바로가기"
INBOX_TITLE = "알림"
INBOX_EMPTY = "알림이 없어요."
MARK_READ = "읽음"
MARK_ALL_READ = "모두 읽음"
OLDER = "더 보기"
CONNECTED = "실시간 연결됨"
RECONNECTING = "다시 연결 중"
OFFLINE = "오프라인"

# Chat
NAV_CHAT = "채팅"
CHAT_TITLE = "채팅"
CHAT_PLACEHOLDER = "메시지를 입력하세요"
CHAT_SEND = "보내기"
CHAT_INVALID = "메시지는 1~1,000자로 써 주세요."
ROOM_PLACEHOLDER = "방 이름으로 입장"
ROOM_INVALID = "방 이름은 1~64자의 영문, 숫자, -, _ 만 쓸 수 있어요."

# System dashboard
NAV_SYSTEM = "시스템"
SYSTEM_TITLE = "시스템 상태"
ADMIN_ONLY = "관리자만 볼 수 있어요."
CONNECTIONS = "연결"
EVENTS_PER_SECOND = "초당 이벤트"
USERS_ONLINE = "접속 사용자"
UPTIME = "가동 시간(초)"
BY_KIND = "종류별 연결"
PUBLISHED = "발행된 이벤트"
