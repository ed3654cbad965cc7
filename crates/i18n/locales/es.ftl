# Los mensajes de Herald en español (neutro, tratando al trader de «tú»). Cada respuesta es
# HTML de Telegram: escapa lo que escribieron los traders antes de pasarlo. Los precios, los
# porcentajes y las horas llegan ya formateados.
# Cada mensaje de este archivo debe existir en todos los demás idiomas, con los mismos argumentos.

## Los comandos: una línea para el menú de comandos de Telegram y /help, y un párrafo para
## /help <comando>. El uso y los ejemplos van en código (son comandos, no prosa), en inglés.

cmd-start = regístrate y descubre cómo funciona Herald
cmd-start-help = Te registra, te pregunta tu zona horaria y te muestra qué hacer a continuación. Puedes volver a usarlo sin problema: te muestra en qué punto estás.
cmd-help = lista los comandos o explica uno
cmd-help-help = Lista todos los comandos. Añade el nombre de un comando para leer sobre ese en concreto.
cmd-settings = cambia tus preferencias con botones
cmd-settings-help = Abre un mensaje con botones para cada preferencia: qué señales recibes y si suenan, confianza mínima, activos, horario de notificaciones y zona horaria, qué pasa fuera de tu horario, formato, idioma e informes de rendimiento (cada cuánto, a qué hora, con o sin sonido). Cada pulsación se guarda al instante.
cmd-subscribe = recibe señales de trading
cmd-subscribe-help = Activa tus señales. Llegan aquí a medida que los modelos las generan, según lo que elijas con /settings y /filter.
cmd-unsubscribe = deja de recibir señales de trading
cmd-unsubscribe-help = Detiene tus señales. Tu configuración se conserva para cuando vuelvas a usar /subscribe.
cmd-filter = configura tus filtros en una sola línea
cmd-filter-help = Configura varios filtros a la vez: <code>confidence:</code> 0-100, <code>types:</code> buy, sell, close, alert, <code>assets:</code> una lista o all, <code>hours:</code> una franja como 08-22 en tu zona horaria, o any, <code>format:</code> compact o detailed. Sin nada más, muestra tus filtros; <code>/filter reset</code> vuelve a los valores predeterminados.
cmd-signals = las últimas señales
cmd-signals-help = Muestra las últimas señales que incluye tu suscripción, en formato compacto: 5, salvo que indiques otra cantidad (20 como máximo).
cmd-status = estado del sistema y de tu suscripción
cmd-status-help = Muestra si los servicios de Herald están funcionando, cuándo llegó la última señal, cuántos mensajes están pendientes de envío, y tu suscripción, plan y filtros.
cmd-performance = estadísticas de rendimiento
cmd-performance-help = Muestra cómo les fue a las señales que recibiste: cuántas, cuántas posiciones se cerraron, ganadoras y perdedoras, tasa de acierto, rentabilidad media, mediana y sumada, la mejor y la peor, por activo y por modelo. De los últimos 7 días, o del periodo que indiques: 24h, 7d, 30d o all. Sus botones cambian el periodo, alternan entre tus señales y todas las señales, y actualizan las cifras.
cmd-language = elige tu idioma
cmd-language-help = Muestra los idiomas que hablo o cambia directamente a uno de ellos.

## /help

help-intro = <b>Herald</b> te envía señales de trading en cuanto se generan. Comandos:
help-line = { $usage } — { $description }
help-more = Envía /help y el nombre de un comando para ver los detalles, p. ej. <code>/help filter</code>.
help-topic =
    <b>{ $usage }</b>
    { $help }
    Ejemplo: <code>{ $example }</code>
help-no-topic = No existe el comando “{ $name }”. Envía /help para ver la lista.

## Cualquier otra cosa

unknown-command = No conozco el comando { $command }. Con /help verás lo que puedo hacer.
unknown-text = Solo respondo a comandos. Con /help verás lo que puedo hacer.
sorry = 😕 Se produjo un error por nuestra parte. Vuelve a intentarlo en un minuto.
private-only = Solo acepto comandos en un chat privado: abre un chat conmigo y envía /start allí.
slow-down = ✋ Son muchos comandos en poco tiempo. Espera un minuto; después volveré a responderte.

## /start

start-welcome-new = 👋 ¡Te damos la bienvenida a Herald, { $name }! Tu registro está completo.
start-welcome-back = 👋 ¡Hola de nuevo, { $name }! Ya te habías registrado.
start-returned = Habías bloqueado el bot, así que tu suscripción quedó en pausa. Envía /subscribe para volver a recibir tus señales.
start-intro = Herald te envía señales de trading intradía —compra, venta, cierre y alertas de mercado— con precios de entrada, objetivo y stop, y la confianza del modelo.
start-disclaimer = ⚠️ Las señales son información, no asesoramiento financiero. Operar conlleva riesgos: nunca arriesgues dinero que no puedas permitirte perder.
start-zone-question = 🕒 ¿En qué zona horaria estás? Toca una o envía su nombre (p. ej. <code>Europe/Madrid</code>) o su diferencia con UTC (p. ej. <code>UTC+5</code>). Tu horario de notificaciones se rige por ella; hasta que elijas una, se usa UTC.
start-state =
    { $subscribed ->
        [yes] ✅ Tu suscripción está activa.
       *[no] Aún no tienes la suscripción activa.
    } Zona horaria: { $zone }. Idioma: { $language }.
start-next = Siguiente paso: /subscribe para recibir señales, /settings para elegir cuáles, /help para ver todos los comandos.
zone-set = 🕒 Zona horaria configurada: { $zone } (hora actual allí: { $time }).

## /subscribe, /unsubscribe

subscribe-done = ✅ ¡Suscripción activada! Las señales llegarán aquí a medida que se generen. Con /settings eliges cuáles; con /unsubscribe las detienes.
subscribe-done-until = ✅ ¡Suscripción activada hasta { $until }! Las señales llegarán aquí a medida que se generen. Con /settings eliges cuáles; con /unsubscribe las detienes.
subscribe-already = Tu suscripción ya está activa. Con /unsubscribe detienes tus señales.
unsubscribe-done = 🔕 Suscripción cancelada. No recibirás más señales; tu configuración se conserva. Con /subscribe vuelves a recibirlas.
unsubscribe-already = No tienes ninguna suscripción activa. Con /subscribe activas tus señales.

## Valores que se muestran en menús y resúmenes

kind-buy = Compra
kind-sell = Venta
kind-close = Cierre
kind-alert = Alerta
mode-on = 🔔 activado
mode-silent = 🔕 en silencio
mode-off = ⛔ desactivado
value-all-assets = todos
value-any-time = a cualquier hora
value-hours = { $window } ({ $zone })
value-none = ninguno
format-detailed = detallado
format-compact = compacto
outside-silent = se envían sin sonido
outside-skip = se omiten
reports-off = desactivados
reports-daily = diarios
reports-weekly = semanales
reports-at-daily = diarios a las { $time }
reports-at-weekly = semanales, los lunes a las { $time }

## /filter

filter-current =
    <b>Tus filtros</b>
    Tipos: { $types }
    Confianza mínima: { $confidence }%
    Activos: { $assets }
    Horario: { $hours }
    Formato: { $format }
filter-usage = Cámbialos con, por ejemplo, <code>{ $example }</code>, o vuelve a los valores predeterminados con <code>/filter reset</code>.
filter-saved = ✅ Filtros guardados.
filter-reset = ✅ Filtros restablecidos a los valores predeterminados.
filter-error =
    ❌ “{ $token }”: { $problem }.
    Ejemplo: <code>{ $example }</code>
filter-problem-syntax = un filtro se escribe clave:valor, con las claves confidence, types, assets, hours y format
filter-problem-unknown-key = ese filtro no existe; los filtros son confidence, types, assets, hours y format
filter-problem-confidence = la confianza es un número entero de 0 a 100
filter-problem-types = los tipos son buy, sell, close y alert, separados por comas
filter-problem-assets = los activos se escriben como BTC/USD o AAPL, separados por comas, o all
filter-problem-too-many-assets = puedes seguir como máximo { $max } activos por nombre
filter-problem-hours = el horario es una franja entre dos horas distintas de 0 a 23, como 08-22 o 22-06, o any
filter-problem-format = el formato es compact o detailed

## /signals

signals-title =
    { $count ->
        [one] 🗂 La última señal:
       *[other] 🗂 Las últimas { $count } señales:
    }
signals-item =
    { $signal }
    <i>{ $when }</i>
signals-none = Aún no hay señales. Aparecerán aquí en cuanto los modelos envíen alguna.
signals-usage = Uso: <code>/signals [count]</code>, con una cantidad de 1 a 20, p. ej. <code>/signals 10</code>.

## /status

status-title = 📡 <b>Estado de Herald</b>
service-ingest-api = Recepción de señales
service-dispatcher = Envío
service-command-bot = Bot de chat
status-service-up = ✅ { $service }: en funcionamiento
status-service-down = ❌ { $service }: detenido
status-last-signal = Última señal: { $when }
status-no-signal = Última señal: ninguna por ahora
status-waiting = Mensajes pendientes de envío: { $count }
status-you = <b>Tú</b>
status-subscribed = Suscripción: ✅ activa
status-subscribed-until = Suscripción: ✅ activa hasta { $until }
status-not-subscribed = Suscripción: inactiva (/subscribe la activa)
status-tier = Plan: { $tier }
status-filters = Filtros: { $types } · desde { $confidence }% · activos: { $assets } · horario: { $hours }
status-checked = Última comprobación: { $time }.

## /performance

perf-usage = No conozco el periodo “{ $period }”. Elige 24h, 7d, 30d o all, p. ej. <code>/performance 30d</code>.
perf-button-24h = 24 h
perf-button-7d = 7 d
perf-button-30d = 30 d
perf-button-all = Todo
perf-button-mine = 👤 Mis señales
perf-button-everyone = 👥 Todas las señales

## /language

language-pick = 🌐 Elige tu idioma:
language-set = ✅ A partir de ahora te hablaré en español.
language-unknown = Todavía no hablo “{ $code }”. Hablo: { $available }.

## /settings

settings-title = ⚙️ <b>Tu configuración</b>
settings-kinds = Señales: { $kinds }
settings-confidence = Confianza mínima: { $confidence }%
settings-assets = Activos: { $assets }
settings-hours = Horario de notificaciones: { $hours }
settings-outside = Fuera de tu horario: { $outside }
settings-zone = Zona horaria: { $zone }
settings-format = Formato: { $format }
settings-language = Idioma: { $language }
settings-reports = Informes de rendimiento: { $reports } ({ $sound })
settings-hint = Toca un botón para cambiarlo; cada cambio se guarda al instante.
settings-pick-confidence = Elige la confianza mínima que quieres:
settings-pick-hours = Elige cuándo quieres recibir notificaciones, en tu hora ({ $zone }), o envía, por ejemplo, <code>/filter hours:08-22</code> para cualquier otra franja:
settings-pick-zone = Elige tu zona horaria o envía su nombre (p. ej. <code>Asia/Tokyo</code>) o su diferencia con UTC (p. ej. <code>UTC+5</code>):
settings-pick-assets = Toca los activos que quieras (si no marcas ninguno, recibes todos) o envía, por ejemplo, <code>/filter assets:BTC/USD,ETH/USD</code>:
settings-pick-reports = Elige cada cuánto quieres recibir informes de rendimiento y a qué hora de tu zona horaria ({ $zone }). Los semanales llegan los lunes.
settings-saved = Guardado.

## Botones

button-kind = { $kind }: { $mode }
button-confidence = Confianza: { $confidence }%
button-assets = Activos: { $assets }
button-hours = Horario: { $hours }
button-outside = Fuera de horario: { $outside }
button-zone = Zona horaria: { $zone }
button-format = Formato: { $format }
button-language = Idioma: { $language }
button-reports = Informes: { $reports }
button-reports-sound = Sonido de informes: { $mode }
button-reports-off = Desactivados
button-reports-daily = Diarios
button-reports-weekly = Semanales
button-any-time = A cualquier hora
button-all-assets = Todos los activos
button-back = « Volver
button-refresh = 🔄 Actualizar
button-got-it = ✅ Entendido
button-stale = Este botón ya no es válido.
menu-stale = Este menú estaba desactualizado: aquí lo tienes tal como está ahora.
read-marked = Marcado como leído.
read-already = Ya estaba marcado como leído.

## Mensajes de señales (el formato de la especificación; los precios y las horas no se traducen)

signal-trading-signal = SEÑAL DE TRADING
signal-close-signal = SEÑAL DE CIERRE
signal-market-alert = ALERTA DE MERCADO
signal-buy = COMPRA
signal-sell = VENTA
signal-close = CIERRE
signal-alert = ALERTA
signal-details = Detalles de la señal
signal-alert-details = Detalles de la alerta
signal-direction = Dirección
signal-asset = Activo
signal-entry-price = Precio de entrada
signal-target-price = Precio objetivo
signal-stop-loss = Stop loss
signal-timeframe = Marco temporal
signal-action = Acción
signal-close-position = Cerrar posición
signal-exit-price = Precio de salida
signal-closes-signal = Cierra la señal
signal-confidence = Confianza de la señal
signal-model = Modelo
signal-performance = Rendimiento
signal-generated = Señal generada
signal-market-context = Contexto de mercado
signal-notes = Notas
signal-one-more-note = 1 nota más
signal-more-notes = { $n } notas más

## Admin login (admin-api sends these to a staff member's private chat)
admin-login-code = 🔐 Tu código de acceso de administración de Herald: <b>{ $code }</b>
    Sirve una vez, durante { $minutes ->
        [one] 1 minuto
       *[other] { $minutes } minutos
    }. Introdúcelo junto con el código de tu app de autenticación.
    Si no intentaste entrar, no lo compartas y avisa a tu equipo: alguien conoce tu id de Telegram e intentó entrar en tu nombre.
admin-login-no-authenticator = 🔐 Alguien intentó entrar en la API de administración de Herald en tu nombre, pero no tienes una app de autenticación registrada, así que no se envió ningún código. Si fuiste tú, pide a un operador que ejecute: herald admin totp-enroll --telegram-id { $telegram_id }

## Cifras de rendimiento (/performance). Las rentabilidades, los porcentajes y las horas
## llegan ya formateados (`+3.00%`, `66.7%`, `2026-11-30 14:05 UTC`); los tipos, de kind-*.

perf-title = 📊 <b>Rendimiento</b> · { $scope } · { $window }
perf-scope-mine = tus señales
perf-scope-all = todas las señales
perf-window-24h = últimas 24 horas
perf-window-7d = últimos 7 días
perf-window-30d = últimos 30 días
perf-window-all = desde el principio
perf-no-signals = Todavía no hay señales en este periodo.
perf-signals =
    { $count ->
        [one] 📨 1 señal
       *[other] 📨 { $count } señales
    }: { $kinds }
perf-positions =
    { $count ->
        [one] 📂 1 posición
       *[other] 📂 { $count } posiciones
    } (compras y ventas): { $closed ->
        [one] 1 cerrada
       *[other] { $closed } cerradas
    } · { $open ->
        [one] 1 abierta
       *[other] { $open } abiertas
    }
perf-not-enough = ⏳ Todavía no se ha cerrado ninguna posición en este periodo, así que no hay rentabilidades que mostrar.
perf-no-returns = ⏳ Ninguna de las posiciones cerradas en este periodo tiene todavía un precio de salida conocido, así que no hay rentabilidades que mostrar.
perf-outcomes =
    ✅ { $wins ->
        [one] 1 ganadora
       *[other] { $wins } ganadoras
    } · ❌ { $losses ->
        [one] 1 perdedora
       *[other] { $losses } perdedoras
    } · ⏹ { $flat ->
        [one] 1 neutra
       *[other] { $flat } neutras
    }
perf-win-rate = 🎯 Tasa de acierto: { $rate } ({ $wins } de { $count })
perf-returns = 📈 Rentabilidad media: { $average } · mediana { $median }
perf-total = ➕ Suma de rentabilidades: { $total }
perf-best = 🏆 Mejor: { $asset } { $return }
perf-worst = 📉 Peor: { $asset } { $return }
perf-by-asset = <b>Por activo</b>
perf-asset =
    • { $asset }: { $count ->
        [one] 1 señal
       *[other] { $count } señales
    }
perf-more-assets =
    { $count ->
        [one] … y 1 activo más
       *[other] … y { $count } activos más
    }
perf-by-model = <b>Por modelo</b>
perf-model =
    • { $model }: { $count ->
        [one] 1 señal
       *[other] { $count } señales
    }, { $closed ->
        [one] 1 cerrada
       *[other] { $closed } cerradas
    } · acierto { $rate } · media { $average }
perf-model-open =
    • { $model }: { $count ->
        [one] 1 señal
       *[other] { $count } señales
    }, { $closed ->
        [one] 1 cerrada
       *[other] { $closed } cerradas
    }
perf-model-unnamed = <i>sin nombre</i>
perf-more-models =
    { $count ->
        [one] … y 1 modelo más
       *[other] … y { $count } modelos más
    }
perf-footer = <i>Datos a { $time }. Las rentabilidades van del precio de entrada al de salida, sin comisiones; la suma las agrega sin capitalizarlas. Los resultados pasados no garantizan resultados futuros.</i>

## Informes de rendimiento: el pie del gráfico (la suma acumulada de rentabilidades)

report-title = 📊 <b>Informe de rendimiento</b> · { $window }
report-closed =
    { $count ->
        [one] 1 posición cerrada
       *[other] { $count } posiciones cerradas
    }: ✅ { $wins } · ❌ { $losses } · ⏹ { $flat }
report-returns = 📈 Suma de rentabilidades: { $total } · media { $average }
report-not-enough =
    ⏳ Ninguna posición se cerró con una rentabilidad conocida en este periodo. { $count ->
        [one] Se envió 1 señal.
       *[other] Se enviaron { $count } señales.
    }
report-chart = <i>Gráfico: la suma acumulada de las rentabilidades, posición a posición.</i>

## El resultado de una posición, que se añade al mensaje de su señal cuando termina
## (`✅ Posición larga cerrada a $43,260.5 · +3.00% · objetivo alcanzado · abierta durante 2 h 15 min`).
## $side es el tipo de la señal de la posición: buy, sell (o cualquier otro: sin lado).

outcome-closed-at =
    { $side ->
        [buy] Posición larga cerrada a { $price }
        [sell] Posición corta cerrada a { $price }
       *[other] Posición cerrada a { $price }
    }
outcome-closed =
    { $side ->
        [buy] Posición larga cerrada
        [sell] Posición corta cerrada
       *[other] Posición cerrada
    }
outcome-reason-target = objetivo alcanzado
outcome-reason-stop = stop loss alcanzado
outcome-reason-manual = cerrada manualmente
outcome-reason-expired = caducada
outcome-open-for = abierta durante { $duration }
