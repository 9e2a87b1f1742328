//! The store against a real MongoDB-wire server (`MONGODB_URI`).

use std::time::{Duration, Instant};

use jiff::SignedDuration;
use permit_domain::{Operator, OperatorAccount, OperatorToken, Permit, PermitId, Refusal, Role, Rules};
use permit_store::{AUDIT_RETENTION, AuditAction, AuditCursor, AuditEntry, AuditFilter, LegalHold, Store, StoreError};
use testkit::{citizen, db_test, fresh_database, mongodb_uri, santiago};

async fn store() -> Store {
    let store = Store::connect(&mongodb_uri(), &fresh_database(), "store-tests")
        .await
        .unwrap();
    store.ensure_indexes().await.unwrap();
    store
}

fn permit(n: u32, motive: &str, at: &str) -> Permit {
    let request = citizen(n, motive).parse().unwrap();
    let window = testkit::window(&Rules::default(), request.motive, santiago(at)).unwrap();
    Permit::issue(request, window)
}

async fn issue(store: &Store, permit: &Permit) -> Result<(), StoreError> {
    let rules = Rules::default();
    let claim = rules.quota_claim(
        &testkit::privacy_key().pseudonym(&permit.rut),
        permit.motive,
        &testkit::terms(&rules, permit.motive),
        permit.requested_at,
    );
    store.issue(permit, claim.as_ref()).await
}

#[db_test]
async fn an_issued_permit_reads_back_unchanged() {
    let store = store().await;
    let permit = permit(1, "compras", "2026-11-30T10:00");
    issue(&store, &permit).await.unwrap();
    assert_eq!(store.find(&permit.id).await.unwrap(), Some(permit));
    assert_eq!(store.find(&PermitId::generate()).await.unwrap(), None);
}

#[db_test]
async fn an_audit_finds_every_permit_of_the_ruts_asked_and_no_other() {
    let store = store().await;
    let first = permit(1, "compras", "2026-11-30T10:00");
    let second = permit(1, "banco", "2026-11-30T11:00");
    let other = permit(2, "compras", "2026-11-30T10:00");
    for permit in [&first, &second, &other] {
        issue(&store, permit).await.unwrap();
    }
    let mut held: Vec<PermitId> = store
        .permits_of(&[first.rut, testkit::rut(3)])
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    held.sort_by_key(PermitId::to_string);
    let mut expected = vec![first.id, second.id];
    expected.sort_by_key(PermitId::to_string);
    assert_eq!(held, expected);
}

#[db_test]
async fn a_citizen_s_own_permits_are_listed_newest_first_and_no_one_elses() {
    let store = store().await;
    let older = permit(1, "compras", "2026-11-30T10:00");
    let newer = permit(1, "banco", "2026-12-01T10:00");
    let other = permit(2, "compras", "2026-12-01T10:00");
    for permit in [&older, &newer, &other] {
        store.issue(permit, None).await.unwrap();
    }
    let ids: Vec<PermitId> = store
        .permits_held_by(&older.rut)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(ids, [newer.id, older.id]);
    assert!(store.permits_held_by(&testkit::rut(3)).await.unwrap().is_empty());
}

#[db_test]
async fn expired_permits_are_erased_into_anonymous_counts_unless_held() {
    let store = store().await;
    let old = permit(1, "compras", "2026-10-01T10:00");
    let old_too = permit(2, "compras", "2026-10-01T11:00");
    let held = permit(3, "compras", "2026-10-01T10:00");
    let recent = permit(4, "compras", "2026-11-30T10:00");
    for permit in [&old, &old_too, &held, &recent] {
        store.issue(permit, None).await.unwrap();
    }
    let hold = LegalHold {
        reason: "causa RIT 1234-2026".into(),
        since: santiago("2026-10-15T09:00"),
    };
    assert_eq!(store.hold(&held.id, &hold).await.unwrap(), Some(()));
    assert_eq!(store.hold(&PermitId::generate(), &hold).await.unwrap(), None);
    let cutoff = santiago("2026-11-01T00:00");
    // One holder's only, when a citizen asks.
    assert_eq!(store.erase_expired(cutoff, 100, Some(&old.rut)).await.unwrap(), 1);
    assert_eq!(store.find(&old.id).await.unwrap(), None);
    assert!(store.find(&old_too.id).await.unwrap().is_some());
    // Everyone's, in batches: the held and the recent permit stay.
    assert_eq!(store.erase_expired(cutoff, 100, None).await.unwrap(), 1);
    assert_eq!(store.erase_expired(cutoff, 100, None).await.unwrap(), 0);
    assert!(store.find(&held.id).await.unwrap().is_some());
    assert!(store.find(&recent.id).await.unwrap().is_some());
    // The two erased remain as a count by day, comuna and motive, naming nobody.
    let comuna = old.comuna.as_str().to_owned();
    assert_eq!(
        store.statistics().await.unwrap(),
        [("2026-10-01".to_owned(), comuna, "compras".to_owned(), 2)]
    );
    // Once the hold is lifted, the held permit goes too.
    assert_eq!(store.release_hold(&held.id).await.unwrap(), Some(()));
    assert_eq!(store.erase_expired(cutoff, 1, None).await.unwrap(), 1);
    assert_eq!(store.find(&held.id).await.unwrap(), None);
}

#[db_test]
async fn the_quota_of_a_permit_that_was_not_stored_is_given_back() {
    let store = store().await;
    let first = permit(1, "compras", "2026-11-30T10:00");
    issue(&store, &first).await.unwrap();
    // The same id again: the quota is counted, then the insert fails (E11000 on `_id`).
    assert!(matches!(issue(&store, &first).await, Err(StoreError::Database(_))));
    let started = Instant::now();
    while store.quota_releases().pending() > 0 {
        assert!(started.elapsed() < Duration::from_secs(10), "give-back still pending");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(store.quota_releases().failed(), 0);
    issue(&store, &permit(1, "compras", "2026-11-30T11:00")).await.unwrap();
    let third = issue(&store, &permit(1, "compras", "2026-11-30T12:00")).await;
    assert!(matches!(third, Err(StoreError::Refused(Refusal::WeeklyLimit { .. }))));
}

fn entry(at: &str, operator: &str, action: AuditAction, permit: Option<&str>) -> AuditEntry {
    AuditEntry {
        at: santiago(at),
        operator: operator.into(),
        role: "operador".into(),
        action,
        permit: permit.map(str::to_owned),
        reason: Some("Oficio 123-2026, Fiscalía Local de Ñuñoa".into()),
        client: Some("10.0.0.7".into()),
        detail: None,
    }
}

#[db_test]
async fn the_audit_log_reads_back_newest_first_filtered_by_permit_operator_action_and_time() {
    let store = store().await;
    let entries = [
        entry("2026-12-07T09:00", "ana", AuditAction::ListPermits, None),
        entry("2026-12-07T09:05", "ana", AuditAction::RevokePermit, Some("p1")),
        entry("2026-12-07T09:10", "beto", AuditAction::PlaceHold, Some("p1")),
        entry("2026-12-07T09:15", "beto", AuditAction::RevokePermit, Some("p2")),
    ];
    for e in &entries {
        store.record(e).await.unwrap();
    }
    let trail = |filter: AuditFilter, limit| {
        let store = store.clone();
        async move { store.audit_trail(&filter, limit).await.unwrap() }
    };
    let all = trail(AuditFilter::default(), 10).await;
    assert_eq!(
        all.entries,
        entries.iter().rev().cloned().collect::<Vec<_>>(),
        "newest first, unchanged"
    );
    assert_eq!(all.next, None, "one page");

    let of_p1 = AuditFilter {
        permit: Some("p1".into()),
        ..AuditFilter::default()
    };
    assert_eq!(trail(of_p1, 10).await.entries, [entries[2].clone(), entries[1].clone()]);
    let by_ana = AuditFilter {
        operator: Some("ana".into()),
        ..AuditFilter::default()
    };
    assert_eq!(
        trail(by_ana, 10).await.entries,
        [entries[1].clone(), entries[0].clone()]
    );
    let revocations = AuditFilter {
        action: Some(AuditAction::RevokePermit),
        ..AuditFilter::default()
    };
    assert_eq!(
        trail(revocations, 10).await.entries,
        [entries[3].clone(), entries[1].clone()]
    );
}

#[db_test]
async fn audit_pages_neither_repeat_nor_skip_entries_of_the_same_millisecond() {
    let store = store().await;
    let entries: Vec<_> = (0..5)
        .map(|n| entry("2026-12-07T09:00", &format!("op{n}"), AuditAction::ReadAudit, None))
        .collect();
    for e in &entries {
        store.record(e).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut filter = AuditFilter::default();
    loop {
        let page = store.audit_trail(&filter, 2).await.unwrap();
        assert!(page.entries.len() <= 2);
        seen.extend(page.entries.into_iter().map(|e| e.operator));
        match page.next {
            Some(next) => filter.after = Some(AuditCursor::parse(&next.encode()).unwrap()),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, ["op0", "op1", "op2", "op3", "op4"]);
    assert!(AuditCursor::parse("not a cursor").is_err());
}

/// The audit log is not kept for ever: the database erases an entry `AUDIT_RETENTION` (five
/// years) after it was made, by a TTL index on its time.
#[db_test]
async fn audit_entries_expire_five_years_after_they_were_made() {
    let database = fresh_database();
    let store = Store::connect(&mongodb_uri(), &database, "store-tests").await.unwrap();
    store.ensure_indexes().await.unwrap();
    let client = mongodb::Client::with_uri_str(mongodb_uri()).await.unwrap();
    let indexes: Vec<mongodb::IndexModel> = futures_util::TryStreamExt::try_collect(
        client
            .database(&database)
            .collection::<mongodb::bson::Document>("audit_log")
            .list_indexes()
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    let expiring: Vec<_> = indexes
        .iter()
        .filter_map(|index| Some((index.keys.clone(), index.options.as_ref()?.expire_after?)))
        .collect();
    assert_eq!(expiring, [(mongodb::bson::doc! { "at": 1 }, AUDIT_RETENTION)]);
    assert_eq!(AUDIT_RETENTION.as_secs() / 86_400, 5 * 365);
}

#[db_test]
async fn operator_tokens_are_kept_as_digests_listed_newest_first_and_revoked_once() {
    let store = store().await;
    let token = OperatorToken::generate();
    let account = |token: &OperatorToken, name: &str, at: &str| OperatorAccount {
        id: token.id().to_owned(),
        digest: token.digest(),
        name: Operator::parse(name).unwrap(),
        role: Role::Revocacion,
        created_at: santiago(at),
        expires_at: santiago("2027-01-01T00:00"),
        created_by: "ADMIN_TOKEN".into(),
        revoked_at: None,
    };
    let first = account(&token, "Cabo R. Soto", "2026-12-07T09:00");
    let second = account(&OperatorToken::generate(), "Sgto. A. Díaz", "2026-12-07T10:00");
    store.add_operator_token(&first).await.unwrap();
    store.add_operator_token(&second).await.unwrap();
    let read = store.operator_token(token.id()).await.unwrap().unwrap();
    assert_eq!(read, first);
    assert!(read.admits(&token, santiago("2026-12-07T11:00")));
    assert_eq!(store.operator_tokens().await.unwrap(), [second.clone(), first.clone()]);
    assert_eq!(store.operator_token("unknown").await.unwrap(), None);

    let at = santiago("2026-12-07T12:00");
    let revoked = store.revoke_operator_token(token.id(), at).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(at));
    let again = store
        .revoke_operator_token(token.id(), santiago("2026-12-07T13:00"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.revoked_at, Some(at), "the first revocation stands");
    assert!(!again.admits(&token, at));
    assert_eq!(store.revoke_operator_token("unknown", at).await.unwrap(), None);
}

#[db_test]
async fn ensuring_indexes_twice_is_harmless() {
    let store = store().await;
    store.ensure_indexes().await.unwrap();
}

#[db_test]
async fn the_third_permit_of_a_week_is_refused_until_next_monday() {
    let store = store().await;
    issue(&store, &permit(2, "compras", "2026-11-30T10:00")).await.unwrap();
    issue(&store, &permit(2, "banco", "2026-12-02T10:00")).await.unwrap();
    let third = issue(&store, &permit(2, "compras", "2026-12-06T10:00"))
        .await
        .unwrap_err();
    let StoreError::Refused(Refusal::WeeklyLimit {
        limit: 2,
        motive_label: None,
        retry_from,
        ..
    }) = third
    else {
        panic!("{third:?}")
    };
    assert_eq!(retry_from.timestamp(), santiago("2026-12-07T00:00"));
    issue(&store, &permit(2, "compras", "2026-12-07T10:00")).await.unwrap();
}

#[db_test]
async fn a_motive_with_its_own_cap_is_refused_before_the_general_limit() {
    let store = store().await;
    issue(&store, &permit(3, "donacion-sangre", "2026-11-30T10:00"))
        .await
        .unwrap();
    let second = issue(&store, &permit(3, "donacion-sangre", "2026-11-30T11:00"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            second,
            StoreError::Refused(Refusal::WeeklyLimit {
                limit: 1,
                motive_label: Some(_),
                ..
            })
        ),
        "{second:?}"
    );
    issue(&store, &permit(3, "compras", "2026-11-30T11:00")).await.unwrap();
}

#[db_test]
async fn racing_claims_for_one_rut_never_exceed_the_limit() {
    let store = store().await;
    let attempts = (0..20).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { issue(&store, &permit(4, "compras", "2026-11-30T10:00")).await })
    });
    let mut issued = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(()) => issued += 1,
            Err(StoreError::Refused(_)) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(issued, 2);
}

#[db_test]
async fn listing_pages_newest_first_with_a_cursor() {
    let store = store().await;
    let mut issued = Vec::new();
    for n in 0..7 {
        let mut p = permit(10 + n, "compras", "2026-11-30T10:00");
        // Three pairs asked for in the same millisecond: a page may end between the two.
        p.requested_at += SignedDuration::from_mins(i64::from(n / 2));
        store.issue(&p, None).await.unwrap();
        issued.push((p.requested_at, p.id.to_string(), p.id));
    }
    issued.sort_by(|a, b| (b.0, &b.1).cmp(&(a.0, &a.1)));
    let issued: Vec<PermitId> = issued.into_iter().map(|(_, _, id)| id).collect();
    let mut pages = vec![store.list(2, None).await.unwrap()];
    while let Some(next) = pages.last().and_then(|page| page.next.clone()) {
        pages.push(store.list(2, Some(&next)).await.unwrap());
    }
    let ids: Vec<_> = pages
        .iter()
        .flat_map(|p| p.permits.iter().map(|p| p.id.clone()))
        .collect();
    assert_eq!(ids, issued);
    assert_eq!(pages.len(), 4);
}

#[db_test]
async fn a_comunas_permits_are_searched_by_days_and_paged_newest_first() {
    let store = store().await;
    let at = |n: u32, comuna: &str, when: &str| {
        let mut request = citizen(n, "compras");
        request.comuna = comuna.into();
        let request = request.parse().unwrap();
        // Asked at noon (no curfew), then dated to the night the test needs.
        let window = testkit::window(&Rules::default(), request.motive, santiago("2026-12-02T12:00")).unwrap();
        let mut permit = Permit::issue(request, window);
        permit.requested_at = santiago(when);
        permit
    };
    let wanted = [
        at(1, "Ñuñoa", "2026-12-01T00:10"),
        at(2, "Nunoa", "2026-12-02T10:00"),
        at(3, "ñuñoa", "2026-12-07T23:50"),
    ];
    let others = [
        at(4, "Ñuñoa", "2026-11-30T23:50"),
        at(5, "Ñuñoa", "2026-12-08T00:10"),
        at(6, "Providencia", "2026-12-03T10:00"),
    ];
    for p in wanted.iter().chain(&others) {
        store.issue(p, None).await.unwrap();
    }
    let nunoa = permit_domain::Comuna::parse("Ñuñoa").unwrap();
    let days = permit_domain::DayRange::parse(Some("2026-12-01"), Some("2026-12-07")).unwrap();
    let range = days.instants(&Rules::default().time_zone);
    let first = store.list_in_comuna(&nunoa, range, 2, None).await.unwrap();
    let next = first.next.clone().expect("a second page");
    let second = store.list_in_comuna(&nunoa, range, 2, Some(&next)).await.unwrap();
    assert!(second.next.is_none());
    let found: Vec<&PermitId> = first.permits.iter().chain(&second.permits).map(|p| &p.id).collect();
    let newest_first: Vec<&PermitId> = wanted.iter().rev().map(|p| &p.id).collect();
    assert_eq!(found, newest_first, "Santiago's days, Ñuñoa's permits only");
}

#[db_test]
async fn every_query_has_a_plan_and_a_permit_by_its_code_reads_one_document() {
    let store = store().await;
    let mut issued = Vec::new();
    for n in 0..20 {
        let p = permit(30 + n, "compras", "2026-11-30T10:00");
        issue(&store, &p).await.unwrap();
        issued.push(p);
    }
    let known = &issued[7];
    let rules = Rules::default();
    let claim = rules
        .quota_claim(
            &testkit::privacy_key().pseudonym(&known.rut),
            known.motive,
            &testkit::terms(&rules, known.motive),
            known.requested_at,
        )
        .unwrap();
    let plans = store
        .query_plans(known, &claim, "una-llave", known.requested_at)
        .await
        .unwrap();
    assert_eq!(plans.len(), 19);
    assert!(plans.iter().all(|plan| !plan.stages.is_empty()), "{plans:#?}");
    let by_code = &plans[0];
    assert_eq!(by_code.documents_examined, 1, "{by_code:#?}");
    assert!(!by_code.grows_with_the_collection(), "{by_code:#?}");
    // The rights page's, the erasure's, a permit's audit trail, the RUTs' audit and a
    // comuna's search walk an index each (`rut`, `expires_at`, the audit log's `permit`,
    // `comuna`): each reads its own
    // entries, not the collection. (The rights page's sort runs in memory here over the
    // citizen's few permits; SecantusDB does not take an order from an index as a mongod
    // would.)
    let plan = |start: &str| plans.iter().find(|p| p.query.starts_with(start)).expect(start);
    for start in [
        "a citizen's own",
        "the next expired",
        "a permit's audit trail",
        "the permits of some RUTs",
        // Its later pages add the cursor's `$or`, which SecantusDB plans as a scan, as it
        // does for the newest permits' later pages: not asserted here.
        "a comuna's permits over a week, first",
    ] {
        let plan = plan(start);
        assert!(!plan.stages.iter().any(|s| s == "COLLSCAN"), "{plan:#?}");
        assert!(plan.stages.iter().any(|s| s.starts_with("IXSCAN")), "{plan:#?}");
        assert!(plan.documents_examined <= 1, "{plan:#?}");
    }
}

#[db_test]
async fn revoking_keeps_the_first_revocation_time() {
    let store = store().await;
    let permit = permit(20, "compras", "2026-11-30T10:00");
    issue(&store, &permit).await.unwrap();
    let first = santiago("2026-11-30T11:00");
    store.revoke(&permit.id, first).await.unwrap();
    let again = store
        .revoke(&permit.id, santiago("2026-11-30T12:00"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.revoked_at, Some(first));
    assert_eq!(store.revoke(&PermitId::generate(), first).await.unwrap(), None);
}

#[db_test]
async fn the_revocation_list_holds_revoked_permits_until_they_expire() {
    let store = store().await;
    store.ensure_indexes().await.unwrap();
    let (kept, revoked, later) = (
        permit(30, "compras", "2026-11-30T10:00"),
        permit(31, "compras", "2026-11-30T10:00"),
        permit(32, "compras", "2026-11-30T10:00"),
    );
    for permit in [&kept, &revoked, &later] {
        issue(&store, permit).await.unwrap();
    }
    let revoked_at = santiago("2026-11-30T10:30");
    store.revoke(&revoked.id, revoked_at).await.unwrap();
    let revoked_later = santiago("2026-11-30T11:30");
    store.revoke(&later.id, revoked_later).await.unwrap();

    let mut listed = store.revocations(santiago("2026-11-30T11:00")).await.unwrap();
    listed.sort_by_key(|(_, at)| *at);
    assert_eq!(
        listed,
        vec![(revoked.id.clone(), revoked_at), (later.id.clone(), revoked_later)]
    );
    let after_expiry = revoked.expires_at + SignedDuration::from_secs(1);
    assert_eq!(store.revocations(after_expiry).await.unwrap(), vec![]);
}

#[db_test]
async fn collection_sizes_count_what_was_stored() {
    let store = store().await;
    store.ensure_indexes().await.unwrap();
    for n in 40..43 {
        issue(&store, &permit(n, "compras", "2026-11-30T10:00")).await.unwrap();
    }
    let sizes = store.sizes().await.unwrap();
    let names: Vec<&str> = sizes.iter().map(|s| s.name).collect();
    assert_eq!(names, ["permits", "weekly_quotas", "idempotency_keys"]);
    assert_eq!((sizes[0].documents, sizes[1].documents, sizes[2].documents), (3, 3, 0));
    assert!(sizes[0].data_bytes > 3 * 100, "{:?}", sizes[0]);
    assert!(sizes[0].index_bytes > 0, "{:?}", sizes[0]);
}

#[tokio::test]
async fn a_dead_database_is_reported_unavailable_within_seconds() {
    let store = testkit::dead_store().await;
    let started = Instant::now();
    let error = store.ping().await.unwrap_err();
    assert!(matches!(error, StoreError::Unavailable(_)), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}

#[db_test]
async fn an_abandoned_idempotency_key_is_taken_over_after_its_lease() {
    use permit_store::KeyState;
    let store = store().await;
    let now = santiago("2026-11-30T10:00");
    let KeyState::Reserved(id) = store.reserve_key("k", "request", now).await.unwrap() else {
        panic!()
    };
    let soon = store
        .reserve_key("k", "request", now + SignedDuration::from_secs(5))
        .await
        .unwrap();
    assert!(matches!(soon, KeyState::InProgress), "{soon:?}");
    let later = store
        .reserve_key("k", "request", now + SignedDuration::from_secs(11))
        .await
        .unwrap();
    let KeyState::Reserved(same) = later else {
        panic!("{later:?}")
    };
    assert_eq!(same, id, "the take-over issues under the reserved id");

    let request = citizen(30, "compras").parse().unwrap();
    let permit = Permit::issue_as(
        id,
        request,
        testkit::window(&Rules::default(), permit_domain::Motive::parse("compras").unwrap(), now).unwrap(),
    );
    store.issue(&permit, None).await.unwrap();
    let replay = store
        .reserve_key("k", "request", now + SignedDuration::from_secs(12))
        .await
        .unwrap();
    assert!(
        matches!(replay, KeyState::Replay(ref p) if p.id == permit.id),
        "a stored permit is found even if never marked done"
    );
    assert!(matches!(
        store.reserve_key("k", "other", now).await.unwrap(),
        KeyState::KeyReused
    ));
}
