import { registry } from "@web/core/registry";

/** T3: the chatter composer's switches start from the defaults and apply to one message. */
registry.category("web_tour.tours").add("mail_tracking_ext_composer_switches", {
    steps: () => [
        {
            trigger: ".o-mail-Chatter-topbar button:contains(Send message)",
            run: "click",
        },
        {
            trigger: ".o-mail-TrackingSwitches-opens[aria-pressed=true]",
        },
        {
            trigger: ".o-mail-TrackingSwitches-clicks[aria-pressed=true]",
            run: "click",
        },
        {
            trigger: ".o-mail-TrackingSwitches-clicks[aria-pressed=false]",
        },
        {
            trigger: ".o-mail-TrackingSwitches-log[aria-pressed=true]",
            run: "click",
        },
        {
            trigger: ".o-mail-TrackingSwitches-log[aria-pressed=false]",
        },
        {
            trigger: ".o-mail-Composer-input",
            run: "edit Our offer: https://shop.example/offer",
        },
        {
            trigger: ".o-mail-Composer-send:enabled",
            run: "click",
        },
        {
            trigger: ".o-mail-Message-body:contains(Our offer)",
        },
        {
            trigger: ".o-mail-Chatter-topbar button:contains(Send message)",
            run: "click",
        },
        {
            content: "the next message starts from the defaults again",
            trigger: ".o-mail-TrackingSwitches-clicks[aria-pressed=true]",
        },
    ],
});
