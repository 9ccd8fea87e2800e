package gen

// Corpus is the built-in training text of the tiny fixture: English with
// contractions, numbers, punctuation, runs of spaces, tabs and newlines,
// accented Latin, Greek, Cyrillic, CJK, Korean, Arabic and emoji. It is
// repeated a few times by TinyJSON so that common pairs are frequent.
const Corpus = `The quick brown fox jumps over the lazy dog. The dog didn't care; it's a lazy dog, and they'll never change it.
I'm sure we've seen this before: you're right, she'd say, and he'll agree. Don't worry, it's fine! Isn't it? We're here.
They're going to the market at 9:30, and they've bought 12 apples, 3.14 kilograms of flour, and 1,000,000 grains of rice.
Numbers: 0 1 2 3 4 5 6 7 8 9 10 11 12 100 2024 12345 67890 3.14159 2.71828 -42 +7 1e10 0x1F 50% $19.99 €5 ¥300 #1 @home
Punctuation!!! Really??? Yes... no -- maybe; (parentheses) [brackets] {braces} <angles> "quotes" 'single' ` + "`backticks`" + ` ~tilde~ a/b\c | pipe & amp * star ^ caret _underscore_ = equals.
    Indented line with four spaces.
        Eight spaces here, then	a	tab	or	two		and a trailing space 
Multiple   spaces   between   words,  and  double  spaces  too.
Line one
Line two

Paragraph after a blank line.


Two blank lines above.	Tab at the end	
def main():
    for i in range(10):
        print(i, "hello", 'world')  # comment
    return None

if (x == 1 && y != 2) { return x + y * 3; } else { z = [1, 2, 3]; }
The naïve café owner's résumé mentioned a façade, a jalapeño, and the coöperative in Zürich; señor Muñoz ate crème brûlée in Łódź.
Ελληνικά: Η γρήγορη καφέ αλεπού πηδάει πάνω από τον τεμπέλη σκύλο. Καλημέρα κόσμε! Ευχαριστώ πολύ, φίλε μου.
Русский: Съешь же ещё этих мягких французских булок, да выпей чаю. Привет, мир! Спасибо.
中文：我爱自然语言处理。今天天气很好，我们去公园散步吧。中文和日本語の文字も少し混ざっています。你好，世界！
日本語：こんにちは、世界。東京は大きな都市です。カタカナとひらがなも使います。
한국어: 안녕하세요, 세계! 저는 학생입니다. 감사합니다.
العربية: مرحبا بالعالم. شكرا جزيلا.
Emoji: 🙂 😀 🎉 👍 ❤️ 🚀 🌍 🙂🙂 and text 🙂 mixed 🎉🎉 with words 👍.
Mixed: naïve café Ελληνικά 中文 🙂 12345 3.14 I'm they'll   multiple   spaces	tab
newline
`
