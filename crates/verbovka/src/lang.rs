//! Language guess: Russian, Ukrainian, both, or neither, from letters and frequent words.

use crate::Lang;

/// Words that occur in one language and not (as a word) in the other.
const UK_WORDS: &[&str] = &[
    "що",
    "це",
    "та",
    "або",
    "від",
    "під",
    "якщо",
    "треба",
    "тобі",
    "мені",
    "щоб",
    "дуже",
    "теж",
    "вже",
    "зараз",
    "як",
    "справи",
    "ранку",
    "дякую",
    "будь",
    "ласка",
    "добрий",
    "привіт",
    "гроші",
    "грошей",
    "робота",
    "роботу",
    "потрібно",
    "можна",
    "який",
    "яка",
    "які",
    "коли",
    "тільки",
    "ти",
    "його",
    "цей",
    "ця",
    "цього",
    "ще",
    "ми",
    "ви",
    "вони",
    "був",
    "була",
    "було",
    "буде",
    "немає",
    "нема",
    "хто",
    "де",
    "пишіть",
    "завдання",
    "оплата",
    "за",
];
const RU_WORDS: &[&str] = &[
    "что",
    "это",
    "как",
    "или",
    "от",
    "под",
    "если",
    "надо",
    "тебе",
    "мне",
    "чтобы",
    "очень",
    "тоже",
    "уже",
    "сейчас",
    "деньги",
    "денег",
    "работа",
    "работу",
    "нужно",
    "можно",
    "который",
    "которая",
    "когда",
    "только",
    "ты",
    "его",
    "этот",
    "эта",
    "этого",
    "еще",
    "мы",
    "вы",
    "они",
    "был",
    "была",
    "было",
    "будет",
    "нет",
    "кто",
    "где",
    "и",
    "пишите",
    "задание",
    "оплата",
    "за",
];

/// Guesses the language of a normalised text; `original` is consulted for `ё`, which the
/// normaliser folds away.
pub fn detect(normalized: &str, original: &str) -> Lang {
    let mut cyr = 0usize;
    let mut uk = 0usize;
    let mut ru = original.chars().filter(|&c| c == 'ё' || c == 'Ё').count();
    for c in normalized.chars() {
        match c {
            'і' | 'ї' | 'є' | 'ґ' => uk += 1,
            'ы' | 'э' | 'ъ' => ru += 1,
            _ => {}
        }
        if ('\u{0400}'..='\u{04FF}').contains(&c) {
            cyr += 1;
        }
    }
    if cyr == 0 {
        return Lang::Other;
    }
    for w in normalized.split(|c: char| !(crate::normalize::is_letter(c) || c == '\'')) {
        if w.is_empty() {
            continue;
        }
        // Words in both lists ("за", "оплата") say nothing.
        let in_uk = UK_WORDS.contains(&w);
        let in_ru = RU_WORDS.contains(&w);
        if in_uk && !in_ru {
            uk += 2;
        } else if in_ru && !in_uk {
            ru += 2;
        }
    }
    match (uk, ru) {
        (0, _) => Lang::Ru,
        (_, 0) => Lang::Uk,
        (u, r) => {
            let (lo, hi) = if u < r { (u, r) } else { (r, u) };
            if lo * 4 >= hi {
                Lang::Mixed
            } else if u > r {
                Lang::Uk
            } else {
                Lang::Ru
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize;

    #[test]
    fn table() {
        let cases = [
            ("Шукаємо людей на підробіток, оплата щодня", Lang::Uk),
            ("Ищем людей на подработку, оплата каждый день", Lang::Ru),
            ("Є робота, надо сделать одно дело, гроші сразу", Lang::Mixed),
            ("hello world", Lang::Other),
            ("Продам авто", Lang::Ru),
            ("Ещё раз", Lang::Ru),
            ("Що це таке? Это что такое?", Lang::Mixed),
            ("Доброго ранку, як справи?", Lang::Uk),
        ];
        for (text, want) in cases {
            let n = normalize(text);
            assert_eq!(detect(n.as_str(), text), want, "{text}");
        }
    }
}
