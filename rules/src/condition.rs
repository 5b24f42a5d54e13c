//! The Sigma condition language: `sel1 and not (filter_a or filter_b)`, `1 of sel*`,
//! `all of them`.
//!
//! Parsed with nom into an [`Expr`] whose leaves are still names and patterns; the compiler
//! resolves them against the rule's search identifiers.

use nom::branch::alt;
use nom::bytes::complete::{tag, tag_no_case, take_while1};
use nom::character::complete::{char, multispace0, multispace1};
use nom::combinator::{all_consuming, map, not, peek, value};
use nom::multi::many0;
use nom::sequence::{delimited, preceded, terminated};
use nom::{IResult, Parser};

/// How many of the identifiers a `... of PATTERN` needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantifier {
    /// `1 of` / `any of`
    Any,
    /// `all of`
    All,
}

/// A parsed condition. Leaves name search identifiers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    Ident(String),
    /// `1 of sel*`, `all of them` (`them` is the pattern `*`).
    Of(Quantifier, String),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

/// Parses a condition. The error is a human-readable description of where it went wrong.
pub fn parse(input: &str) -> Result<Expr, String> {
    if input.contains('|') {
        return Err("aggregation expressions (`| count() ...`) are the deprecated Sigma v1 \
                    syntax; write a correlation rule instead"
            .to_owned());
    }
    match all_consuming(delimited(multispace0, or_expr, multispace0)).parse(input) {
        Ok((_, expr)) => Ok(expr),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => {
            let at = input.len() - e.input.len();
            Err(format!("cannot parse condition at byte {at}: {:?}", e.input.chars().take(30).collect::<String>()))
        }
        Err(nom::Err::Incomplete(_)) => Err("incomplete condition".to_owned()),
    }
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '*' | '?')
}

/// A keyword followed by a word boundary.
fn keyword<'a>(word: &'static str) -> impl Parser<&'a str, Output = &'a str, Error = nom::error::Error<&'a str>> {
    terminated(tag_no_case(word), not(peek(take_while1(is_ident_char))))
}

fn ident(input: &str) -> IResult<&str, &str> {
    let (rest, word) = take_while1(is_ident_char)(input)?;
    if ["and", "or", "not", "of"].iter().any(|k| word.eq_ignore_ascii_case(k)) {
        return Err(nom::Err::Error(nom::error::Error::new(input, nom::error::ErrorKind::Tag)));
    }
    Ok((rest, word))
}

fn or_expr(input: &str) -> IResult<&str, Expr> {
    let (rest, first) = and_expr(input)?;
    let (rest, others) = many0(preceded((multispace1, keyword("or"), multispace1), and_expr)).parse(rest)?;
    Ok((rest, fold(first, others, Expr::Or)))
}

fn and_expr(input: &str) -> IResult<&str, Expr> {
    let (rest, first) = not_expr(input)?;
    let (rest, others) = many0(preceded((multispace1, keyword("and"), multispace1), not_expr)).parse(rest)?;
    Ok((rest, fold(first, others, Expr::And)))
}

fn fold(first: Expr, others: Vec<Expr>, join: fn(Vec<Expr>) -> Expr) -> Expr {
    if others.is_empty() {
        first
    } else {
        let mut all = vec![first];
        all.extend(others);
        join(all)
    }
}

fn not_expr(input: &str) -> IResult<&str, Expr> {
    alt((
        map(preceded((keyword("not"), multispace1), not_expr), |e| Expr::Not(Box::new(e))),
        // `not(sel)` without a space.
        map(preceded((keyword("not"), multispace0), paren), |e| Expr::Not(Box::new(e))),
        primary,
    ))
    .parse(input)
}

fn paren(input: &str) -> IResult<&str, Expr> {
    delimited((char('('), multispace0), or_expr, (multispace0, char(')'))).parse(input)
}

fn primary(input: &str) -> IResult<&str, Expr> {
    alt((paren, of_expr, map(ident, |s: &str| Expr::Ident(s.to_owned())))).parse(input)
}

fn of_expr(input: &str) -> IResult<&str, Expr> {
    let quantifier = alt((
        value(Quantifier::Any, tag("1")),
        value(Quantifier::Any, keyword("any")),
        value(Quantifier::All, keyword("all")),
    ));
    let target = alt((value("*", keyword("them")), ident));
    map((quantifier, multispace1, keyword("of"), multispace1, target), |(q, _, _, _, t)| Expr::Of(q, t.to_owned()))
        .parse(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> Expr {
        Expr::Ident(s.to_owned())
    }

    #[test]
    fn precedence_not_and_or() {
        let e = parse("a or b and not c").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e, Expr::Or(vec![id("a"), Expr::And(vec![id("b"), Expr::Not(Box::new(id("c")))])]));
    }

    #[test]
    fn parens_and_of() {
        let e = parse("(1 of sel_* or all of them) and not filter").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            e,
            Expr::And(vec![
                Expr::Or(vec![Expr::Of(Quantifier::Any, "sel_*".into()), Expr::Of(Quantifier::All, "*".into())]),
                Expr::Not(Box::new(id("filter"))),
            ])
        );
    }

    #[test]
    fn identifiers_may_start_with_keywords() {
        assert_eq!(parse("order and notice").ok(), Some(Expr::And(vec![id("order"), id("notice")])));
        assert_eq!(parse("NOT(a)").ok(), Some(Expr::Not(Box::new(id("a")))));
    }

    #[test]
    fn errors_are_reported() {
        assert!(parse("a and").is_err());
        assert!(parse("(a").is_err());
        assert!(parse("sel | count() > 5").is_err_and(|e| e.contains("correlation")));
    }
}
