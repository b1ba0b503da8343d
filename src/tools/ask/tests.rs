use serde_json::{Map, Value, json};

use super::*;

fn caps(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn name_question() -> Question {
    Question::Elicit {
        message: "What is your name?".into(),
        schema: json!({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}),
    }
}

fn sample() -> Question {
    Question::Sample(json!({"messages": [], "maxTokens": 10}))
}

fn input(caps_v: Value, given: Value, carried: Value, bound: Value) -> Input {
    Input::new(caps(caps_v), caps(given), caps(carried), bound)
}

#[test]
fn unanswered_questions_stop_with_an_interrupt_and_answers_come_back() {
    let all = json!({"elicitation": {}, "sampling": {}});
    let first = input(all.clone(), json!({}), json!({}), Value::Null);
    assert!(first.ask(vec![("user_name", name_question())], Value::Null).is_err());
    match first.take_stop() {
        Some(Stop::Ask(i)) => assert_eq!(i.questions.keys().collect::<Vec<_>>(), ["user_name"]),
        other => panic!("expected an interrupt, got {other:?}"),
    }
    let answer = json!({"user_name": {"action": "accept", "content": {"name": "Alice"}}, "extra": {"x": 1}});
    let second = input(all, answer, json!({}), Value::Null);
    let got = second.ask(vec![("user_name", name_question())], Value::Null).expect("answered");
    assert!(
        matches!(&got["user_name"], Answer::Elicit { action: ElicitAction::Accept, content } if content["name"] == "Alice")
    );
    assert!(second.take_stop().is_none());
}

#[test]
fn questions_the_client_cannot_answer_are_left_out_or_stop_the_call() {
    let only_sampling = input(json!({"sampling": {}}), json!({}), json!({}), Value::Null);
    let _ = only_sampling.ask(vec![("a", name_question()), ("b", sample())], Value::Null);
    match only_sampling.take_stop() {
        Some(Stop::Ask(i)) => assert_eq!(i.questions.keys().collect::<Vec<_>>(), ["b"]),
        other => panic!("expected sampling only, got {other:?}"),
    }
    let none = input(json!({}), json!({}), json!({}), Value::Null);
    let err = none.ask(vec![("a", name_question())], Value::Null).expect_err("cannot proceed");
    assert_eq!(err.code, ToolErrorCode::ClientCapabilityMissing);
    assert_eq!(none.take_stop(), Some(Stop::Unaskable(caps(json!({"elicitation": {}})))));
}

#[test]
fn malformed_answers_are_protocol_errors() {
    for bad in [json!(12345), json!({"action": "maybe"}), json!({"action": "accept", "content": {"name": 5}})] {
        let i = input(json!({"elicitation": {}}), json!({"user_name": bad}), json!({}), Value::Null);
        assert!(i.ask(vec![("user_name", name_question())], Value::Null).is_err());
        assert!(matches!(i.take_stop(), Some(Stop::Malformed(e)) if e.to_rpc().code == -32602), "{bad}");
    }
}

#[test]
fn answers_count_only_under_the_binding_they_were_given_for() {
    let yes = json!({"confirm": {"action": "accept", "content": {"confirm": true}}});
    let q = || vec![("confirm", Question::confirm("Delete?"))];
    // No state (nothing bound) but the tool binds: a fabricated answer does not count.
    let forged = input(json!({"elicitation": {}}), yes.clone(), json!({}), Value::Null);
    assert!(forged.ask(q(), json!("plan-1")).is_err());
    assert!(matches!(forged.take_stop(), Some(Stop::Ask(_))));
    // The plan changed since the question was asked: ask again.
    let stale = input(json!({"elicitation": {}}), yes.clone(), json!({}), json!("plan-0"));
    assert!(stale.ask(q(), json!("plan-1")).is_err());
    // Asked about this plan: the answer counts.
    let ok = input(json!({"elicitation": {}}), yes, json!({}), json!("plan-1"));
    assert!(ok.ask(q(), json!("plan-1")).expect("confirmed")["confirm"].confirmed());
}

#[test]
fn carried_answers_survive_into_later_rounds() {
    let carried = json!({"step1": {"action": "accept", "content": {"name": "A"}}});
    let i = input(json!({"elicitation": {}}), json!({}), carried, Value::Null);
    assert!(i.ask(vec![("step1", name_question())], Value::Null).is_ok());
    assert!(i.ask(vec![("step2", name_question())], Value::Null).is_err());
    match i.take_stop() {
        Some(Stop::Ask(int)) => {
            assert!(int.questions.contains_key("step2"));
            assert_eq!(int.answered.keys().collect::<Vec<_>>(), ["step1"], "step 1's answer travels on");
        }
        other => panic!("{other:?}"),
    }
}
