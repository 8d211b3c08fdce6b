//! The portable schema: hand-written because `diesel print-schema` differs per backend.
//! Ids are UUID text, times are UTC `Timestamp`, lists are JSON text.

diesel::table! {
    organisations (id) {
        id -> Text,
        kind -> Text,
        name -> Text,
        time_zone -> Text,
        provider_id -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        organisation_id -> Text,
        email -> Text,
        name -> Text,
        role -> Text,
        password_hash -> Text,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    api_clients (id) {
        id -> Text,
        organisation_id -> Text,
        name -> Text,
        client_id -> Text,
        secret_hash -> Text,
        role -> Text,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        previous_secret_hash -> Nullable<Text>,
        previous_secret_expires_at -> Nullable<Timestamp>,
        tokens_not_before -> Nullable<Timestamp>,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Text,
        family_id -> Text,
        user_id -> Text,
        issued_at -> Timestamp,
        expires_at -> Timestamp,
        rotated_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    coaches (id) {
        id -> Text,
        organisation_id -> Text,
        user_id -> Nullable<Text>,
        name -> Text,
        email -> Text,
        specialisms -> Text,
        languages -> Text,
        time_zone -> Text,
        active -> Bool,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(users -> organisations (organisation_id));
diesel::joinable!(api_clients -> organisations (organisation_id));
diesel::joinable!(coaches -> organisations (organisation_id));
diesel::joinable!(refresh_tokens -> users (user_id));

diesel::table! {
    orders (id) {
        id -> Text,
        employer_id -> Text,
        provider_id -> Text,
        status -> Text,
        version -> Integer,
        coachee_name -> Text,
        coachee_email -> Nullable<Text>,
        coachee_phone -> Nullable<Text>,
        kind -> Nullable<Text>,
        context -> Text,
        details -> Text,
        session_budget -> Integer,
        end_date -> Date,
        external_ref -> Nullable<Text>,
        coach_id -> Nullable<Text>,
        contact_due_at -> Timestamp,
        contacted_at -> Nullable<Timestamp>,
        contact_channel -> Nullable<Text>,
        intake_decision -> Nullable<Text>,
        completed_at -> Nullable<Timestamp>,
        cancelled_at -> Nullable<Timestamp>,
        cancel_reason -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        regular_sessions_planned -> Integer,
        regular_sessions_used -> Integer,
        alliance_risk -> Nullable<Text>,
        alliance_at_risk_at -> Nullable<Timestamp>,
        closing_summary -> Nullable<Text>,
        invitation_id -> Nullable<Text>,
        employer_sees -> Bool,
    }
}

diesel::table! {
    events (id) {
        id -> Text,
        order_id -> Nullable<Text>,
        organisation_id -> Nullable<Text>,
        event_type -> Text,
        data_version -> Integer,
        from_status -> Nullable<Text>,
        to_status -> Nullable<Text>,
        actor_role -> Text,
        actor_id -> Text,
        data -> Text,
        occurred_at -> Timestamp,
    }
}

diesel::table! {
    intakes (order_id) {
        order_id -> Text,
        draft -> Text,
        version -> Integer,
        updated_at -> Timestamp,
        completed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    plans (order_id) {
        order_id -> Text,
        plan -> Text,
        version -> Integer,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    order_extensions (id) {
        id -> Text,
        order_id -> Text,
        added_sessions -> Integer,
        new_end_date -> Date,
        substantiation -> Text,
        alternative_considered -> Text,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    consents (id) {
        id -> Text,
        order_id -> Text,
        kind -> Text,
        given -> Bool,
        source -> Text,
        recorded_at -> Timestamp,
    }
}

diesel::table! {
    coachee_links (id) {
        id -> Text,
        order_id -> Text,
        issued_by -> Text,
        issued_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    idempotency_keys (subject, idem_key) {
        subject -> Text,
        idem_key -> Text,
        request_hash -> Text,
        status -> Nullable<Integer>,
        response_body -> Nullable<Text>,
        headers -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    event_log_heads (organisation_id) {
        organisation_id -> Text,
        last_seq -> BigInt,
    }
}

diesel::table! {
    event_log (organisation_id, seq) {
        organisation_id -> Text,
        seq -> BigInt,
        event_id -> Text,
    }
}

diesel::table! {
    coach_availability (coach_id) {
        coach_id -> Text,
        rules -> Text,
        version -> Integer,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        order_id -> Text,
        coach_id -> Text,
        provider_id -> Text,
        group_id -> Nullable<Text>,
        calendar_key -> Text,
        kind -> Text,
        format -> Text,
        location -> Nullable<Text>,
        meeting_link -> Nullable<Text>,
        starts_at -> Timestamp,
        ends_at -> Timestamp,
        blocked_until -> Timestamp,
        outside_hours -> Bool,
        status -> Text,
        counts_against_budget -> Bool,
        cancelled_at -> Nullable<Timestamp>,
        cancelled_by -> Nullable<Text>,
        cancelled_by_role -> Nullable<Text>,
        requested_by -> Nullable<Text>,
        cancel_reason -> Nullable<Text>,
        attendance_at -> Nullable<Timestamp>,
        rating -> Nullable<Integer>,
        rating_comment -> Nullable<Text>,
        rated_at -> Nullable<Timestamp>,
        version -> Integer,
        booked_by -> Text,
        booked_by_role -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    session_notes (session_id) {
        session_id -> Text,
        sealed -> Text,
        version -> Integer,
        updated_by -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    calendar_feeds (id) {
        id -> Text,
        coach_id -> Nullable<Text>,
        order_id -> Nullable<Text>,
        token_hash -> Text,
        created_by -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    provider_settings (organisation_id) {
        organisation_id -> Text,
        coachee_self_service -> Bool,
        late_cancellation_hours -> Integer,
        version -> Integer,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    session_groups (id) {
        id -> Text,
        coach_id -> Text,
        provider_id -> Text,
        capacity -> Integer,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    closing_reviews (order_id) {
        order_id -> Text,
        review -> Text,
        version -> Integer,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    follow_up_policies (employer_id) {
        employer_id -> Text,
        days -> Text,
        version -> Integer,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    follow_ups (id) {
        id -> Text,
        order_id -> Text,
        provider_id -> Text,
        number -> Integer,
        due_on -> Date,
        status -> Text,
        session_id -> Nullable<Text>,
        flag -> Nullable<Text>,
        skip_reason -> Nullable<Text>,
        results -> Nullable<Text>,
        outcome_note -> Nullable<Text>,
        outcome_at -> Nullable<Timestamp>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    jobs (id) {
        id -> Text,
        kind -> Text,
        dedupe_key -> Text,
        organisation_id -> Nullable<Text>,
        payload -> Text,
        status -> Text,
        run_at -> Timestamp,
        attempts -> Integer,
        max_attempts -> Integer,
        leased_until -> Nullable<Timestamp>,
        leased_by -> Nullable<Text>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(follow_ups -> orders (order_id));
diesel::joinable!(orders -> coaches (coach_id));
diesel::joinable!(sessions -> orders (order_id));
diesel::joinable!(coach_availability -> coaches (coach_id));
diesel::joinable!(event_log -> events (event_id));
diesel::table! {
    login_setups (token_hash) {
        token_hash -> Text,
        user_id -> Text,
        expires_at -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::joinable!(events -> orders (order_id));
diesel::joinable!(intakes -> orders (order_id));
diesel::joinable!(plans -> orders (order_id));
diesel::joinable!(consents -> orders (order_id));
diesel::joinable!(coachee_links -> orders (order_id));
diesel::joinable!(order_extensions -> orders (order_id));

diesel::allow_tables_to_appear_in_same_query!(
    closing_reviews,
    follow_up_policies,
    follow_ups,
    jobs,
    login_setups,
    users,
    api_clients,
    refresh_tokens,
    idempotency_keys,
    orders,
    events,
    event_log,
    event_log_heads,
    intakes,
    plans,
    consents,
    coachee_links,
    order_extensions,
    coaches,
    organisations,
    coach_availability,
    sessions,
    session_notes,
    calendar_feeds,
    provider_settings,
    session_groups,
    webhooks,
    webhook_deliveries,
    webhook_attempts,
    revoked_tokens,
    login_failures,
    audit_log,
    erasures,
    request_counts,
    invitations,
    invitation_sign_ups,
    invitation_refusals
);

diesel::table! {
    webhooks (id) {
        id -> Text,
        organisation_id -> Text,
        url -> Text,
        description -> Text,
        event_types -> Text,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_until -> Nullable<Timestamp>,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        disabled_detail -> Nullable<Text>,
        disabled_at -> Nullable<Timestamp>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        webhook_id -> Text,
        event_id -> Nullable<Text>,
        event_type -> Text,
        position -> BigInt,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        failing_since -> Nullable<Timestamp>,
        last_status_code -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        delivered_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_attempts (id) {
        id -> Text,
        delivery_id -> Text,
        attempted_at -> Timestamp,
        status_code -> Nullable<Integer>,
        error -> Nullable<Text>,
        response_body -> Nullable<Text>,
        duration_ms -> Integer,
        next_attempt_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));
diesel::joinable!(webhook_attempts -> webhook_deliveries (delivery_id));

diesel::table! {
    revoked_tokens (jti) {
        jti -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    login_failures (key_hash) {
        key_hash -> Text,
        failures -> Integer,
        first_at -> Timestamp,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        organisation_id -> Text,
        at -> Timestamp,
        request_id -> Nullable<Text>,
        actor_role -> Text,
        actor_type -> Text,
        actor_id -> Text,
        action -> Text,
        resource_id -> Nullable<Text>,
        kind -> Text,
    }
}

diesel::table! {
    erasures (order_id) {
        order_id -> Text,
        erased_at -> Timestamp,
        erased_by -> Text,
    }
}

diesel::table! {
    request_counts (caller, window_start) {
        caller -> Text,
        window_start -> BigInt,
        requests -> BigInt,
    }
}

diesel::table! {
    invitations (id) {
        id -> Text,
        employer_id -> Text,
        title -> Text,
        message -> Text,
        kind -> Text,
        session_budget -> Integer,
        max_sign_ups -> Integer,
        ends_on -> Date,
        confidential -> Bool,
        token_hash -> Text,
        sign_ups -> Integer,
        closed_at -> Nullable<Timestamp>,
        version -> Integer,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    invitation_sign_ups (invitation_id, person_key) {
        invitation_id -> Text,
        person_key -> Text,
        order_id -> Text,
    }
}

diesel::table! {
    invitation_refusals (invitation_id, reason) {
        invitation_id -> Text,
        reason -> Text,
        refused -> BigInt,
    }
}
